"""`mepipe-train compare RUN_A RUN_B`: the paired difference of two runs on the clips both
predicted (for example an ablation row against the full method).

- the difference A − B of UF1, UAR and Acc on those clips;
- a 95% bootstrap confidence interval of each difference: the paired clips are resampled
  with replacement (RESAMPLES times, a fixed random seed, so the same runs give the same
  interval), and both runs are scored on each resample (vectorised: one bincount);
- per held-out subject, whether A has more correct clips than B (win), fewer (loss) or as
  many (tie).

Runs with several seeds are paired clip by clip within the same seed when both have
seeds, otherwise clip by clip.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pandas as pd

from mepipe.errors import MepipeError
from mepipe.tables import read_table
from mepipe_train.evaluation import FIXED, predictions_file

RESAMPLES = 2000
BOOTSTRAP_SEED = 0
LEVEL = 0.95


def batch_scores(true: np.ndarray, pred: np.ndarray, n_classes: int) -> dict[str, np.ndarray]:
    """UF1, UAR and Acc of each row of `true`/`pred` (shape (B, n)), as metrics.scores
    defines them (classes absent from truth and predictions left out)."""
    b = true.shape[0]
    codes = true * n_classes + pred + (np.arange(b) * n_classes * n_classes)[:, None]
    counts = np.bincount(codes.ravel(), minlength=b * n_classes * n_classes)
    matrix = counts.reshape(b, n_classes, n_classes).astype(float)
    tp = np.diagonal(matrix, axis1=1, axis2=2)
    support, predicted = matrix.sum(axis=2), matrix.sum(axis=1)
    f1_den = support + predicted  # 2TP + FP + FN
    seen, present = f1_den > 0, support > 0
    f1 = np.divide(2 * tp, f1_den, out=np.zeros_like(tp), where=seen)
    recall = np.divide(tp, support, out=np.zeros_like(tp), where=present)
    return {
        "uf1": f1.sum(1) / seen.sum(1),
        "uar": recall.sum(1) / present.sum(1),
        "acc": tp.sum(1) / matrix.sum((1, 2)),
    }


def bootstrap_difference(
    true: np.ndarray,
    pred_a: np.ndarray,
    pred_b: np.ndarray,
    n_classes: int,
    resamples: int = RESAMPLES,
    seed: int = BOOTSTRAP_SEED,
) -> dict[str, dict[str, float]]:
    """{metric: {a, b, difference, low, high}}: A − B on the clips, and its percentile
    interval over `resamples` paired resamples of the clips."""
    true, pred_a, pred_b = (np.asarray(v, np.int64) for v in (true, pred_a, pred_b))
    point_a = batch_scores(true[None], pred_a[None], n_classes)
    point_b = batch_scores(true[None], pred_b[None], n_classes)
    index = np.random.default_rng(seed).integers(0, len(true), (resamples, len(true)))
    diff_a = batch_scores(true[index], pred_a[index], n_classes)
    diff_b = batch_scores(true[index], pred_b[index], n_classes)
    tail = (1 - LEVEL) / 2 * 100
    result = {}
    for key in ("uf1", "uar", "acc"):
        low, high = np.percentile(diff_a[key] - diff_b[key], [tail, 100 - tail])
        a, b = float(point_a[key][0]), float(point_b[key][0])
        result[key] = {"a": a, "b": b, "difference": a - b, "low": float(low), "high": float(high)}
    return result


def subject_wins(paired: pd.DataFrame) -> dict[str, int]:
    """Per held-out subject: A has more correct clips than B (win), fewer (loss), as many."""
    right = paired.assign(
        a=paired["pred_index_a"] == paired["true_index"],
        b=paired["pred_index_b"] == paired["true_index"],
    )
    per = right.groupby(["database", "subject"])[["a", "b"]].sum()
    return {
        "win": int((per["a"] > per["b"]).sum()),
        "loss": int((per["a"] < per["b"]).sum()),
        "tie": int((per["a"] == per["b"]).sum()),
    }


def load_predictions(run: Path, kind: str) -> pd.DataFrame:
    path = run / predictions_file(kind)
    if not path.exists():
        from mepipe_train.loso import evaluate

        evaluate(run)
    if not path.exists():
        raise MepipeError(f"the run has no {kind} result (run with --select inner-loso?)", run)
    return read_table(path, f"the run's {kind} predictions", f"run `mepipe-train evaluate {run}`")


def compare_runs(run_a: str | Path, run_b: str | Path, kind: str = FIXED) -> dict:
    """The paired comparison of two runs' `kind` results (fixed, inner or oracle)."""
    a, b = load_predictions(Path(run_a), kind), load_predictions(Path(run_b), kind)
    on = ["key", "seed"] if "seed" in a.columns and "seed" in b.columns else ["key"]
    keep = on + ["database", "subject", "true_index", "pred_index"]
    paired = a[keep].merge(b[on + ["true_index", "pred_index"]], on=on, suffixes=("_a", "_b"))
    if paired.empty:
        raise MepipeError(f"the runs have no clip in common: {run_a} and {run_b}")
    clash = paired["true_index_a"] != paired["true_index_b"]
    if clash.any():
        key = paired.loc[clash, "key"].iloc[0]
        raise MepipeError(f"the runs disagree on the true label of clip {key} (other protocols?)")
    paired = paired.rename(columns={"true_index_a": "true_index"})
    n_classes = _classes_of(Path(run_a))
    matched = pd.MultiIndex.from_frame(paired[on])
    return {
        "kind": kind,
        "clips": len(paired),
        "only_a": int((~pd.MultiIndex.from_frame(a[on]).isin(matched)).sum()),
        "only_b": int((~pd.MultiIndex.from_frame(b[on]).isin(matched)).sum()),
        "resamples": RESAMPLES,
        "metrics": bootstrap_difference(
            paired["true_index"], paired["pred_index_a"], paired["pred_index_b"], n_classes
        ),
        "subjects": subject_wins(paired),
    }


def _classes_of(run: Path) -> int:
    from mepipe.protocols import load_scheme
    from mepipe_train.config import load_config

    return len(load_scheme(load_config(run).protocol).classes)
