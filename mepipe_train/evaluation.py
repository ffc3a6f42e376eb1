"""The three results of a run, from what it saved: fixed epoch, inner validation, oracle.

- **fixed epoch**: the network after the configured number of epochs
  (`fold-*/predictions.parquet`): the honest headline.
- **inner validation** (`--select inner-loso`): for each fold, its held-out predictions at
  the epoch chosen on its own training subjects (`fold-*/inner_selection.json`,
  mepipe_train.selection).
- **oracle (leaky, optimistic)**: for each held-out subject the epoch that scores best on
  that same subject, as the public code of several published methods does. Chosen by the
  number of correct clips (the published code keeps each subject's best accuracy), then by
  the subject's UF1, then the earliest epoch; so its pooled accuracy is never below the
  fixed epoch's (the last epoch is one of the candidates), and UF1/UAR nearly always are
  not either. It is always shown with its inflation, oracle − fixed.

The per-epoch held-out predictions (`fold-*/heldout_by_epoch.parquet`) are read here and
nowhere in training.
"""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pandas as pd

from mepipe.atomic import write_json, write_parquet
from mepipe.contract.split_table import read_split
from mepipe.errors import MepipeError, one_line
from mepipe_train.config import TrainConfig
from mepipe_train.flowfold import trained_epochs
from mepipe_train.heldout import HELDOUT
from mepipe_train.metrics import metrics_by_database, scores
from mepipe_train.selection import SELECTION, read_selection

FIXED, INNER, ORACLE = "fixed", "inner", "oracle"
LABELS = {
    FIXED: "fixed epoch",
    INNER: "inner validation",
    ORACLE: "oracle (leaky, optimistic)",
}
SPLIT_FOLDS = "split_folds.json"  # every fold number of the run's split (missing-fold check)
METRIC_KEYS = ("uf1", "uar", "acc", "f1")


def predictions_file(kind: str) -> str:
    """Where evaluate writes the pooled predictions of each result."""
    return "predictions.parquet" if kind == FIXED else f"predictions-{kind}.parquet"


def record_split_folds(run: Path, numbers: list[int]) -> None:
    """Remember how many folds the split has, so that evaluate can name missing ones."""
    write_json(run / SPLIT_FOLDS, {"folds": sorted(numbers)})


def split_folds(run: Path, config: TrainConfig) -> list[int] | None:
    """The run's fold numbers: from RUN/split_folds.json, else its --split file, else None."""
    path = run / SPLIT_FOLDS
    if path.exists():
        try:
            return [int(n) for n in json.loads(path.read_text(encoding="utf-8"))["folds"]]
        except (OSError, ValueError, KeyError, TypeError) as exc:
            raise MepipeError(f"cannot read the split's folds ({one_line(exc)})", path) from None
    if config.split and Path(config.split).exists():
        return sorted(int(n) for n in read_split(config.split)["fold"].unique())
    return None


def missing_folds_line(metrics: dict) -> str | None:
    """The loud warning of a run pooled over fewer folds than its split has, or None."""
    missing = metrics.get("missing_folds") or []
    if not missing:
        return None
    total = metrics["expected_folds"]
    shown = ", ".join(str(n) for n in missing[:20]) + (" ..." if len(missing) > 20 else "")
    return (
        f"WARNING: only {total - len(missing)} of {total} folds have finished (missing: "
        f"{shown}); these metrics are NOT the full LOSO result"
    )


def oracle_epochs(by_epoch: pd.DataFrame, n_classes: int) -> dict[int, int]:
    """fold -> its held-out subject's best epoch (most correct clips, then UF1, then the
    earliest): the leaky choice of the published code."""
    chosen = {}
    for fold, rows in by_epoch.groupby("fold"):
        best = None
        for epoch, part in sorted(rows.groupby("epoch")):
            correct = int((part["true_index"] == part["pred_index"]).sum())
            uf1 = scores(part["true_index"], part["pred_index"], n_classes).uf1
            rank = (correct, uf1, -int(epoch))
            if best is None or rank > best[0]:
                best = (rank, int(epoch))
        chosen[int(fold)] = best[1]
    return chosen


def at_epochs(by_epoch: pd.DataFrame, epochs: dict[int, int]) -> pd.DataFrame:
    """The rows of each fold at its chosen epoch (the `epoch` column kept)."""
    wanted = by_epoch["fold"].map(epochs)
    return by_epoch[by_epoch["epoch"] == wanted].reset_index(drop=True)


def read_by_epoch(path: Path, n_classes: int) -> pd.DataFrame:
    """A fold's heldout_by_epoch.parquet, checked like its predictions."""
    from mepipe_train.loso import read_predictions

    table = read_predictions(path, n_classes)
    if "epoch" not in table.columns or not pd.api.types.is_integer_dtype(table["epoch"]):
        raise MepipeError("per-epoch predictions lack a whole-number epoch column", path)
    return table


def difference(a: dict, b: dict) -> dict:
    """a - b for every part and metric both hold."""
    return {part: {k: a[part][k] - b[part][k] for k in METRIC_KEYS} for part in a if part in b}


def run_results(run: Path, config: TrainConfig, fixed: pd.DataFrame, n_classes: int) -> dict:
    """metrics.json's `results` (the three, with the oracle's inflation), the missing
    folds, and the pooled predictions of each result (predictions-<kind>.parquet)."""
    finished = sorted(int(f) for f in fixed["fold"].unique())
    expected = split_folds(run, config)
    out: dict = {
        "expected_folds": len(expected) if expected is not None else None,
        "missing_folds": sorted(set(expected) - set(finished)) if expected is not None else [],
        "results": {FIXED: {"label": LABELS[FIXED], "scores": metrics_by_database(fixed, n_classes),
                            "epochs": trained_epochs(config)}},
    }  # fmt: skip
    parts = []
    for fold in finished:
        path = run / f"fold-{fold:03d}" / HELDOUT
        if path.exists():
            parts.append(read_by_epoch(path, n_classes))
    complete = [
        p for p in parts if p["epoch"].nunique() == trained_epochs(config)
    ]  # a fold trained before the diagnostics existed has none
    no_diagnostics = sorted(set(finished) - {int(p["fold"].iloc[0]) for p in complete if len(p)})
    out["folds_without_diagnostics"] = no_diagnostics
    if not complete:
        return out
    by_epoch = pd.concat(complete, ignore_index=True)
    covered = sorted(int(f) for f in by_epoch["fold"].unique())
    fixed_same = metrics_by_database(fixed[fixed["fold"].isin(covered)], n_classes)
    oracle = at_epochs(by_epoch, oracle_epochs(by_epoch, n_classes))
    write_parquet(run / predictions_file(ORACLE), oracle)
    oracle_scores = metrics_by_database(oracle, n_classes)
    out["results"][ORACLE] = {
        "label": LABELS[ORACLE],
        "scores": oracle_scores,
        "folds": covered,
        "inflation": difference(oracle_scores, fixed_same),
    }
    out["heldout_uf1_by_epoch"] = [
        scores(p["true_index"], p["pred_index"], n_classes).uf1
        for _, p in sorted(by_epoch.groupby("epoch"))
    ]
    if config.select == "inner-loso":
        chosen = {}
        for fold in covered:
            path = run / f"fold-{fold:03d}" / SELECTION
            if path.exists():
                chosen[fold] = read_selection(path)["epoch"]
        inner = at_epochs(by_epoch[by_epoch["fold"].isin(chosen)], chosen)
        write_parquet(run / predictions_file(INNER), inner)
        out["results"][INNER] = {
            "label": LABELS[INNER],
            "scores": metrics_by_database(inner, n_classes),
            "folds": sorted(chosen),
            "epochs": {str(f): e for f, e in chosen.items()},
        }
    return out


def seed_summary(per_seed: dict[int, dict]) -> dict:
    """{kind: {label, scores: {part: {metric: {mean, std, values}}}}} over the seeds' metrics,
    and the oracle's `inflation` alike (std: sample standard deviation, ddof=1; 0 for one
    seed)."""
    summary: dict = {}
    first = next(iter(per_seed.values()))
    for kind in first["results"]:
        runs = [m["results"][kind] for m in per_seed.values() if kind in m["results"]]
        summary[kind] = {"label": first["results"][kind]["label"]}
        for table in ("scores", "inflation"):
            if table in runs[0]:
                summary[kind][table] = _spread([r[table] for r in runs])
    return summary


def _spread(tables: list[dict]) -> dict:
    out: dict = {}
    for part in tables[0]:
        out[part] = {}
        for key in METRIC_KEYS:
            values = [t[part][key] for t in tables if part in t]
            array = np.asarray(values, float)
            out[part][key] = {
                "mean": float(array.mean()),
                "std": float(array.std(ddof=1)) if len(array) > 1 else 0.0,
                "values": values,
            }
    return out
