"""Predictions after every MTMNet epoch, for diagnostics and for the report only.

`EpochPredictions` is the `after_epoch` callback of `mtmnet.train_mtmnet`. For a LOSO fold
it is given the held-out clips and writes `fold-NNN/heldout_by_epoch.parquet`; for an inner
fold of `--select inner-loso` it is given that inner fold's validation subjects (all on the
outer fold's training side) and writes `inner_val_by_epoch.parquet`.

Why this cannot leak: the callback is called by the phase loop once an epoch's weights
exist, it only predicts (eval mode, no gradient, random states restored by the phase loop),
and nothing in training or in the choice of an epoch reads the held-out file: only
`mepipe_train.evaluation` (evaluate, report) does, after training.
"""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path

import pandas as pd

from mepipe.atomic import write_parquet
from mepipe.errors import MepipeError, one_line
from mepipe_train.config import TrainConfig
from mepipe_train.data import ClipBytes, Item
from mepipe_train.models import MicroClassifier
from mepipe_train.mtmnet import predict
from mepipe_train.runtime import Runtime

HELDOUT = "heldout_by_epoch.parquet"
INNER_VAL = "inner_val_by_epoch.parquet"


class EpochPredictions:
    """Appends the predictions of `items` after each epoch (column `epoch`, 0-based) to one
    parquet file, rewritten atomically; rows of an epoch done again (resume) are replaced."""

    def __init__(
        self,
        path: Path,
        runtime: Runtime,
        items: Sequence[Item],
        pool: dict[str, ClipBytes],
        config: TrainConfig,
        fold: int,
        classes: Sequence[str],
    ):
        self.path, self.runtime, self.items, self.pool = path, runtime, items, pool
        self.config, self.fold, self.classes = config, fold, classes

    def __call__(self, micro: MicroClassifier, epoch: int) -> None:
        table = predict(
            micro, self.runtime, self.items, self.pool, self.config, self.fold, self.classes
        )
        table.insert(0, "epoch", epoch)
        if self.path.exists():
            try:
                earlier = pd.read_parquet(self.path, columns=None)
            except Exception as exc:  # pyarrow raises many types for a damaged file
                raise MepipeError(
                    f"cannot read the per-epoch predictions ({one_line(exc)}); delete it and "
                    "the fold's mtmnet.ckpt to redo the fold's MTMNet",
                    self.path,
                ) from None
            table = pd.concat([earlier[earlier["epoch"] < epoch], table], ignore_index=True)
        write_parquet(self.path, table)
