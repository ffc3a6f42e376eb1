"""`mepipe-train evaluate RUN` names a damaged fold predictions file (issue 8, item 12)
instead of a traceback or metrics computed from half a file."""

from __future__ import annotations

import pandas as pd
import pytest
from cli_helpers import error_line
from click.testing import CliRunner

from mepipe.atomic import write_parquet
from mepipe_train.cli import main
from mepipe_train.config import TrainConfig


def fold_predictions(fold: int) -> pd.DataFrame:
    """Predictions of three held-out clips, in the columns mtmnet.predict writes."""
    return pd.DataFrame(
        {
            "key": [f"casme2__sub0{fold}__c{i}" for i in range(3)],
            "fold": [fold] * 3,
            "database": ["casme2"] * 3,
            "subject": [f"sub0{fold}"] * 3,
            "true_label": ["negative", "positive", "surprise"],
            "true_index": [0, 1, 2],
            "pred_label": ["negative", "positive", "negative"],
            "pred_index": [0, 1, 0],
        }
    )


@pytest.fixture
def run(tmp_path):
    TrainConfig(out=str(tmp_path)).save(tmp_path)
    for fold in (0, 1):
        write_parquet(tmp_path / f"fold-00{fold}" / "predictions.parquet", fold_predictions(fold))
    return tmp_path


def evaluate(run):
    return CliRunner().invoke(main, ["evaluate", str(run)])


def test_good_predictions_evaluate(run):
    result = evaluate(run)
    assert result.exit_code == 0, result.output
    assert "UF1" in result.output and (run / "metrics.json").exists()


def test_truncated_predictions_file_is_named(run):
    path = run / "fold-001" / "predictions.parquet"
    path.write_bytes(path.read_bytes()[:-40])
    line = error_line(evaluate(run))
    assert line.startswith(f"Error: {path}: cannot read fold predictions")
    assert "delete it and rerun" in line


@pytest.mark.parametrize(
    "change, problem",
    [
        (lambda t: t.drop(columns="pred_index"), "lack column(s) pred_index"),
        (lambda t: t.assign(pred_index=[0, 7, 1]), "row 1: pred_index 7 is not a class index"),
        (lambda t: t.assign(true_index=["a", "b", "c"]), "true_index is not whole numbers"),
    ],
)
def test_predictions_with_wrong_columns_are_named(run, change, problem):
    path = run / "fold-000" / "predictions.parquet"
    write_parquet(path, change(fold_predictions(0)))
    line = error_line(evaluate(run))
    assert line.startswith(f"Error: {path}") and problem in line


def test_damaged_config_of_the_run_is_named(run):
    (run / "config.json").write_text('{"protocol": 5}')
    line = error_line(evaluate(run))
    assert line == f"Error: {run / 'config.json'}: key protocol must be text, got 5"
