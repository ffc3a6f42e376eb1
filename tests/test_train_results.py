"""Issue 11 on constructed run folders (no training): the three results (fixed epoch, inner
validation, the leaky oracle and its inflation), the loud missing-fold warning in
`evaluate` and `report`, and `compare`'s bootstrap interval on hand-made examples."""

from __future__ import annotations

import json

import numpy as np
import pandas as pd
import pytest
from click.testing import CliRunner

from mepipe.atomic import write_json, write_parquet
from mepipe_train.cli import main
from mepipe_train.compare import batch_scores, bootstrap_difference, compare_runs
from mepipe_train.config import TrainConfig
from mepipe_train.evaluation import oracle_epochs, record_split_folds
from mepipe_train.loso import evaluate
from mepipe_train.metrics import scores

CLASSES = ["negative", "positive", "surprise"]


def clips(fold: int, truth: list[int], preds: list[int], epoch: int | None = None):
    """A fold's predictions in mtmnet.predict's columns (and `epoch` when given)."""
    n = len(truth)
    table = pd.DataFrame(
        {
            "key": [f"casme2__s{fold}__c{i}" for i in range(n)],
            "fold": [fold] * n,
            "database": ["casme2"] * n,
            "subject": [f"s{fold}"] * n,
            "true_label": [CLASSES[t] for t in truth],
            "true_index": truth,
            "pred_label": [CLASSES[p] for p in preds],
            "pred_index": preds,
        }
    )
    if epoch is not None:
        table.insert(0, "epoch", epoch)
    return table


# Per fold: truth and the predictions after epochs 1, 2, 3 (the last is the fixed epoch).
TRUTH = {0: [0, 1, 2, 0], 1: [1, 2, 0, 1]}
BY_EPOCH = {
    0: [[0, 1, 2, 0], [0, 1, 0, 0], [0, 0, 0, 0]],  # best at epoch 0
    1: [[0, 0, 0, 0], [1, 2, 0, 0], [1, 2, 1, 1]],  # best at epoch 1
}


def make_run(root, select="fixed", folds=(0, 1), split_folds=None) -> TrainConfig:
    config = TrainConfig(out=str(root), epochs=3, select=select)
    config.save(root)
    if split_folds is not None:
        record_split_folds(root, list(split_folds))
    for fold in folds:
        folder = root / f"fold-{fold:03d}"
        write_parquet(folder / "predictions.parquet", clips(fold, TRUTH[fold], BY_EPOCH[fold][-1]))
        table = pd.concat(
            [clips(fold, TRUTH[fold], p, epoch) for epoch, p in enumerate(BY_EPOCH[fold])]
        )
        write_parquet(folder / "heldout_by_epoch.parquet", table)
    return config


def test_oracle_picks_each_subjects_best_epoch_and_is_never_below_fixed(tmp_path):
    make_run(tmp_path)
    metrics = evaluate(tmp_path)
    results = metrics["results"]
    assert set(results) == {"fixed", "oracle"}
    assert results["fixed"]["scores"] == metrics["scores"]
    assert "leaky" in results["oracle"]["label"] and "optimistic" in results["oracle"]["label"]
    oracle = pd.read_parquet(tmp_path / "predictions-oracle.parquet")
    assert oracle.groupby("fold")["epoch"].first().to_dict() == {0: 0, 1: 1}
    for key in ("acc", "uf1", "uar"):
        fixed, best = (
            results["fixed"]["scores"]["all"][key],
            results["oracle"]["scores"]["all"][key],
        )
        assert best >= fixed
        assert results["oracle"]["inflation"]["all"][key] == pytest.approx(best - fixed)
    # fold 0's best epoch is all correct, fold 1's has 3 of 4: 7 of 8 pooled
    assert results["oracle"]["scores"]["all"]["acc"] == pytest.approx(7 / 8)
    saved = json.loads((tmp_path / "metrics.json").read_text())
    assert saved["results"]["oracle"]["inflation"]["all"]["uf1"] > 0


def test_oracle_breaks_ties_by_uf1_then_the_earliest_epoch():
    table = pd.concat(
        [
            clips(0, [0, 1, 1, 2], [0, 1, 0, 0], 0),  # 2 correct, classes 0 and 1
            clips(0, [0, 1, 1, 2], [0, 0, 1, 1], 1),  # 2 correct, lower UF1? same count
            clips(0, [0, 1, 1, 2], [0, 1, 0, 0], 2),  # the same as epoch 0
        ]
    )
    uf1 = [scores(p["true_index"], p["pred_index"], 3).uf1 for _, p in table.groupby("epoch")]
    best = max(range(2), key=lambda e: (uf1[e], -e))
    assert oracle_epochs(table, 3) == {0: best}


def test_inner_result_reads_the_chosen_epoch_of_each_fold(tmp_path):
    make_run(tmp_path, select="inner-loso")
    write_json(tmp_path / "fold-000" / "inner_selection.json", {"epoch": 1, "metric": "uf1"})
    write_json(tmp_path / "fold-001" / "inner_selection.json", {"epoch": 2, "metric": "uf1"})
    metrics = evaluate(tmp_path)
    inner = pd.read_parquet(tmp_path / "predictions-inner.parquet")
    assert inner.groupby("fold")["epoch"].first().to_dict() == {0: 1, 1: 2}
    expected = pd.concat([clips(0, TRUTH[0], BY_EPOCH[0][1]), clips(1, TRUTH[1], BY_EPOCH[1][2])])
    assert metrics["results"]["inner"]["scores"]["all"] == pytest.approx(
        scores(expected["true_index"], expected["pred_index"], 3).to_dict()
    )
    assert metrics["results"]["inner"]["epochs"] == {"0": 1, "1": 2}
    (tmp_path / "fold-001" / "inner_selection.json").unlink()
    result = CliRunner().invoke(main, ["evaluate", str(tmp_path)])
    assert "WARNING: only 1 of 2 finished folds have an inner-validation choice" in result.output


def test_missing_folds_are_a_loud_warning_in_evaluate_and_report(tmp_path):
    make_run(tmp_path, folds=(0,), split_folds=range(3))
    result = CliRunner().invoke(main, ["evaluate", str(tmp_path)])
    assert result.exit_code == 0, result.output
    assert "WARNING: only 1 of 3 folds have finished (missing: 1, 2)" in result.output
    assert json.loads((tmp_path / "metrics.json").read_text())["missing_folds"] == [1, 2]
    result = CliRunner().invoke(main, ["report", str(tmp_path)])
    assert result.exit_code == 0, result.output
    page = (tmp_path / "report.md").read_text().splitlines()
    assert page[2].startswith("> **WARNING: only 1 of 3 folds")  # right under the title
    for name in ("results.png", "confusion-all.png", "confusion-casme2.png", "curves.png"):
        assert (tmp_path / "report" / name).stat().st_size > 1000, name


def test_all_folds_present_gives_no_warning(tmp_path):
    make_run(tmp_path, split_folds=(0, 1))
    result = CliRunner().invoke(main, ["evaluate", str(tmp_path)])
    assert result.exit_code == 0 and "WARNING" not in result.output


def test_vectorised_bootstrap_scores_match_the_metrics_module():
    rng = np.random.default_rng(1)
    true, pred = rng.integers(0, 3, (20, 15)), rng.integers(0, 3, (20, 15))
    pred[0] = 0  # a resample that predicts one class only
    batch = batch_scores(true, pred, 3)
    for row in range(20):
        expected = scores(true[row], pred[row], 3)
        assert batch["uf1"][row] == pytest.approx(expected.uf1)
        assert batch["uar"][row] == pytest.approx(expected.uar)
        assert batch["acc"][row] == pytest.approx(expected.acc)


def test_bootstrap_interval_on_hand_made_examples():
    truth = [0, 0, 1, 1]
    # A always right, B always wrong: every resample differs by exactly 1
    sure = bootstrap_difference(truth, truth, [1, 1, 0, 0], 2, resamples=500)
    assert sure["uf1"] == {"a": 1.0, "b": 0.0, "difference": 1.0, "low": 1.0, "high": 1.0}
    # the same predictions: no difference at all
    same = bootstrap_difference(truth, [0, 1, 1, 1], [0, 1, 1, 1], 2, resamples=500)
    assert same["uar"]["low"] == same["uar"]["high"] == 0.0
    # B misses clip 1: UF1 1 - (2/3 + 4/5)/2; a quarter of the clips decide it, so a
    # resample without clip 1 (probability (3/4)^4 = 0.32) shows no difference: low = 0
    one = bootstrap_difference(truth, truth, [0, 1, 1, 1], 2, resamples=2000)
    assert one["uf1"]["difference"] == pytest.approx(1 - (2 / 3 + 4 / 5) / 2)
    assert one["uf1"]["low"] == 0.0 and 0 < one["uf1"]["high"] <= 1
    assert one["acc"]["difference"] == pytest.approx(0.25)
    # a fixed random seed: the same runs give the same interval
    assert bootstrap_difference(truth, truth, [0, 1, 1, 1], 2) == bootstrap_difference(
        truth, truth, [0, 1, 1, 1], 2
    )


def test_compare_pairs_clips_and_counts_subject_wins(tmp_path):
    a, b = tmp_path / "a", tmp_path / "b"
    a.mkdir(), b.mkdir()
    make_run(a)
    make_run(b)
    # B: fold 0 at its best epoch (better than A), fold 1 as A
    write_parquet(b / "fold-000" / "predictions.parquet", clips(0, TRUTH[0], BY_EPOCH[0][0]))
    result = compare_runs(a, b)
    assert result["clips"] == 8 and result["only_a"] == result["only_b"] == 0
    assert result["subjects"] == {"win": 0, "loss": 1, "tie": 1}
    assert result["metrics"]["acc"]["difference"] == pytest.approx(
        (5 - 7) / 8
    )  # A: 2 + 3 right, B: 4 + 3
    out = CliRunner().invoke(main, ["compare", str(a), str(b)])
    assert out.exit_code == 0, out.output
    assert "95% CI" in out.output and "A wins 0, loses 1, ties 1" in out.output


def test_a_damaged_pooled_predictions_file_is_one_error_line_in_compare(tmp_path):
    from cli_helpers import error_line

    a, b = tmp_path / "a", tmp_path / "b"
    a.mkdir(), b.mkdir()
    make_run(a)
    make_run(b)
    evaluate(b)
    pooled = b / "predictions.parquet"
    pooled.write_bytes(pooled.read_bytes()[:100])  # truncated
    line = error_line(CliRunner().invoke(main, ["compare", str(a), str(b)]))
    assert line.startswith(f"Error: {pooled}: cannot read the run's fixed predictions (")
    assert line.endswith(f"run `mepipe-train evaluate {b}`")


def test_phase_commands_refuse_several_seeds(tmp_path):
    result = CliRunner().invoke(main, ["eidnet", "--role", "macro", "--out", str(tmp_path),
                                       "--seeds", "0,1"])  # fmt: skip
    assert result.exit_code == 1 and "--seeds with several seeds runs with" in result.output
