"""Acc, F1, UF1 and UAR over LOSO predictions pooled across folds (DATASETS.md, Metrics).

Pooling matters: a held-out subject often lacks a class, so per-fold F1 is undefined or
noisy; the protocol sums TP, FP and FN of every class over all folds first. On pooled counts
macro F1 and UF1 are the same number; both are reported because the paper's single-database
tables say F1 and its composite table says UF1.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import asdict, dataclass

import numpy as np
import pandas as pd


@dataclass(frozen=True)
class Scores:
    samples: int
    acc: float
    f1: float
    uf1: float
    uar: float

    def to_dict(self) -> dict[str, float]:
        return asdict(self)


def confusion(y_true: Sequence[int], y_pred: Sequence[int], n_classes: int) -> np.ndarray:
    """Counts[c_true, c_pred] of pooled predictions."""
    matrix = np.zeros((n_classes, n_classes), np.int64)
    np.add.at(matrix, (np.asarray(y_true, int), np.asarray(y_pred, int)), 1)
    return matrix


def scores(y_true: Sequence[int], y_pred: Sequence[int], n_classes: int) -> Scores:
    """Pooled Acc, macro F1 = UF1, and UAR.

    F1_c = 2TP / (2TP + FP + FN), averaged over classes that occur in the truth or the
    predictions (0/0 has no value); recall is averaged over classes that occur in the truth.
    """
    matrix = confusion(y_true, y_pred, n_classes)
    total = int(matrix.sum())
    if total == 0:
        return Scores(0, float("nan"), float("nan"), float("nan"), float("nan"))
    tp = np.diag(matrix).astype(float)
    fp = matrix.sum(axis=0) - tp
    fn = matrix.sum(axis=1) - tp
    f1_den = 2 * tp + fp + fn
    seen = f1_den > 0
    uf1 = float(np.mean(2 * tp[seen] / f1_den[seen]))
    support = matrix.sum(axis=1)
    present = support > 0
    uar = float(np.mean(tp[present] / support[present]))
    return Scores(total, float(tp.sum() / total), uf1, uf1, uar)


def metrics_by_database(predictions: pd.DataFrame, n_classes: int) -> dict[str, dict[str, float]]:
    """{'all': Scores, '<database>': Scores, ...} of a predictions table (true/pred columns)."""
    result = {
        "all": scores(predictions["true_index"], predictions["pred_index"], n_classes).to_dict()
    }
    for database, part in sorted(predictions.groupby("database")):
        result[str(database)] = scores(part["true_index"], part["pred_index"], n_classes).to_dict()
    return result
