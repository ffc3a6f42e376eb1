"""Predictions after every epoch of a fold's model (MTMNet, STSTNet, OFF-ApexNet), for
diagnostics, the oracle and the report only.

`EpochPredictions` is the `after_epoch` callback of `mtmnet.train_mtmnet` and of
`flowfold.train_flow`; it is given the model's predict function (`mtmnet.predict` or
`flowfold.predict_flow`, bound to the clips to predict). For a LOSO fold
it is given the held-out clips and writes `fold-NNN/heldout_by_epoch.parquet`; for an inner
fold of `--select inner-loso` it is given that inner fold's validation subjects (all on the
outer fold's training side) and writes `inner_val_by_epoch.parquet`.

Why this cannot leak: the callback is called by the phase loop once an epoch's weights
exist, it only predicts (eval mode, no gradient, random states restored by the phase loop),
and nothing in training or in the choice of an epoch reads the held-out file: only
`mepipe_train.evaluation` (evaluate, report) does, after training.
"""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path

import pandas as pd
from torch import nn

from mepipe.atomic import write_parquet
from mepipe.tables import read_table

HELDOUT = "heldout_by_epoch.parquet"
INNER_VAL = "inner_val_by_epoch.parquet"

# The model's predictions of the clips the writer is for (their rows: mepipe_train.predictions).
PredictFn = Callable[[nn.Module], pd.DataFrame]


class EpochPredictions:
    """Appends the predictions of `predict(model)` after each epoch (column `epoch`, 0-based)
    to one parquet file, rewritten atomically; rows of an epoch done again (resume) are
    replaced. `phase` (e.g. mtmnet, ststnet) names the checkpoint to delete if it is damaged."""

    def __init__(self, path: Path, predict: PredictFn, phase: str):
        self.path, self.predict, self.phase = path, predict, phase

    def __call__(self, model: nn.Module, epoch: int) -> None:
        table = self.predict(model)
        table.insert(0, "epoch", epoch)
        if self.path.exists():
            earlier = read_table(
                self.path,
                "the per-epoch predictions",
                f"delete it and the fold's {self.phase}.ckpt to redo the fold's {self.phase}",
            )
            table = pd.concat([earlier[earlier["epoch"] < epoch], table], ignore_index=True)
        write_parquet(self.path, table)
