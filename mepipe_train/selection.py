"""`--select inner-loso`: each fold chooses its epoch on its own training subjects.

The fold's training subjects are split into groups (one per subject, or `--inner-k K`);
for each group an inner fold trains as the outer fold does (EIDNet/MTMNet: MicroNet
pretraining when --eid, then MTMNet; a flow model: its one phase, flowfold.train_flow;
the same functions with a smaller item list) on
the other groups, and after every epoch predicts the group's clips
(`fold-NNN/inner/inner-JJ/inner_val_by_epoch.parquet`). The epoch whose validation
predictions, pooled over the inner folds, score the best UF1 (SELECTION_METRIC; the earliest
on a tie) is the fold's chosen epoch, written to `fold-NNN/inner_selection.json`.
The held-out subject plays no part: this module is given the fold's training items and
their images only, and the held-out per-epoch predictions are read by the evaluation alone
(mepipe_train.evaluation), after training.

Cost: every fold trains 1 + K times (K = number of inner folds), each inner fold on
(K-1)/K of the fold's training clips. The inner weights are deleted once the epoch is
chosen; their step logs and validation predictions stay.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from functools import partial
from pathlib import Path

import pandas as pd
import torch

from mepipe.atomic import write_json
from mepipe.errors import MepipeError, one_line
from mepipe.tables import read_table
from mepipe_train.config import TrainConfig
from mepipe_train.data import ClipBytes, Fold, Item
from mepipe_train.eidnet import new_eidnet, phase_seed, train_eidnet
from mepipe_train.heldout import INNER_VAL, EpochPredictions
from mepipe_train.metrics import scores
from mepipe_train.models import EIDNet
from mepipe_train.mtmnet import predict, train_mtmnet
from mepipe_train.runtime import Runtime

INNER_DIR = "inner"
SELECTION = "inner_selection.json"
SELECTION_METRIC = "uf1"


def subject_of(item: Item) -> str:
    return f"{item.database}/{item.subject}"


def inner_groups(items: Sequence[Item], k: int) -> list[list[str]]:
    """The fold's training subjects in `k` groups (0: one group per subject), dealt in
    sorted order so that a group mixes databases."""
    subjects = sorted({subject_of(i) for i in items})
    if len(subjects) < 2:
        raise MepipeError(
            f"--select inner-loso needs at least 2 training subjects per fold, got {len(subjects)}"
        )
    k = len(subjects) if k == 0 else min(max(k, 2), len(subjects))
    return [subjects[j::k] for j in range(k)]


def choose_epoch(table: pd.DataFrame, n_classes: int) -> tuple[int, list[float]]:
    """(chosen epoch, pooled validation UF1 of each epoch) of inner validation predictions."""
    by_epoch = [
        getattr(scores(part["true_index"], part["pred_index"], n_classes), SELECTION_METRIC)
        for _, part in sorted(table.groupby("epoch"))
    ]
    epochs = sorted(int(e) for e in table["epoch"].unique())
    best = max(range(len(by_epoch)), key=lambda n: (by_epoch[n], -n))
    return epochs[best], by_epoch


# Trains inner fold j (its folder, training items, validation items, progress label) so
# that after every epoch the validation items' predictions are appended to
# folder/INNER_VAL (an EpochPredictions writer): one per model family.
InnerTrainer = Callable[[int, Path, list[Item], list[Item], str], None]


def mtmnet_inner_trainer(
    config: TrainConfig,
    runtime: Runtime,
    fold: Fold,
    classes: Sequence[str],
    train_pool: dict[str, ClipBytes],
    macronet: EIDNet | None,
    macro_items: Sequence[Item],
    macro_pool: dict[str, ClipBytes],
) -> InnerTrainer:
    """The inner folds of EIDNet/MTMNet: the outer fold's two phases (MicroNet pretraining
    when --eid, then MTMNet) on the inner training items."""

    def train_inner(j: int, inner: Path, train: list[Item], val: list[Item], name: str) -> None:
        if config.eid:
            micronet = train_eidnet(
                config, runtime, train, train_pool, len(classes), inner, "micronet",
                f"{name} micronet", phase_seed(config.seed, fold.number, f"inner {j} micronet"),
            )  # fmt: skip
        else:
            torch.manual_seed(phase_seed(config.seed, fold.number, f"inner {j} micronet"))
            subjects = len({subject_of(i) for i in train})
            micronet = runtime.place(new_eidnet(config, len(classes), subjects))
        writer = EpochPredictions(
            inner / INNER_VAL,
            partial(predict, runtime=runtime, items=val, pool=train_pool, config=config,
                    fold=fold.number, classes=classes),
            "mtmnet",
        )  # fmt: skip
        train_mtmnet(
            config, runtime, micronet, macronet, train, macro_items, train_pool, macro_pool,
            inner, f"{name} mtmnet", phase_seed(config.seed, fold.number, f"inner {j} mtmnet"),
            after_epoch=writer,
        )  # fmt: skip

    return train_inner


def select_epoch(
    config: TrainConfig,
    runtime: Runtime,
    fold: Fold,
    classes: Sequence[str],
    folder: Path,
    train_inner: InnerTrainer,
) -> int | None:
    """Train the inner folds of `fold` with `train_inner` and write its chosen epoch (or read
    it when already chosen); returns it on the main rank."""
    path = folder / SELECTION
    if path.exists():
        return read_selection(path)["epoch"]
    groups = inner_groups(fold.train, config.inner_k)
    parts = []
    for j, group in enumerate(groups):
        inner = folder / INNER_DIR / f"inner-{j:02d}"
        train = [i for i in fold.train if subject_of(i) not in group]
        val = [i for i in fold.train if subject_of(i) in group]
        train_inner(j, inner, train, val, f"fold {fold.number} inner {j}")
        if runtime.main:
            parts.append(
                read_table(inner / INNER_VAL, "inner validation predictions").assign(inner=j)
            )
    if not runtime.main:
        runtime.barrier()
        return None
    epoch, by_epoch = choose_epoch(pd.concat(parts, ignore_index=True), len(classes))
    write_json(
        path,
        {
            "epoch": epoch,
            "metric": SELECTION_METRIC,
            "inner_folds": [sorted(g) for g in groups],
            "scores_by_epoch": by_epoch,
        },
    )
    for weights in (folder / INNER_DIR).glob("inner-*/*.pt"):
        weights.unlink()  # the choice is made; the step logs and predictions stay
    runtime.barrier()
    return epoch


def read_selection(path: Path) -> dict:
    """A fold's inner_selection.json, checked."""
    import json

    try:
        data = json.loads(path.read_text(encoding="utf-8"))
    except (OSError, ValueError) as exc:
        raise MepipeError(f"cannot read the inner selection ({one_line(exc)})", path) from None
    if not isinstance(data, dict) or type(data.get("epoch")) is not int or data["epoch"] < 0:
        raise MepipeError("holds no chosen epoch (a whole number >= 0)", path)
    return data
