"""Issue 11 end to end on tiny rendered shards: the held-out predictions after every epoch
(and their resume), `--select inner-loso` never reading a held-out key, `--seeds` with a
report holding all three results (the issue's done-when)."""

from __future__ import annotations

import inspect
import json
from collections import defaultdict

import pandas as pd
import pytest
import torch
from click.testing import CliRunner

from mepipe_train import loso, mtmnet
from mepipe_train import selection as selection_module
from mepipe_train.cli import main
from mepipe_train.config import TrainConfig
from mepipe_train.loso import run_loso
from mepipe_train.synthetic import SyntheticSpec, build

torch.set_num_threads(1)


@pytest.fixture(scope="module")
def data(tmp_path_factory):
    root = tmp_path_factory.mktemp("data")
    return root, build(root, SyntheticSpec())


def small(data, out, **changes) -> TrainConfig:
    root, split = data
    options = dict(
        data=str(root), split=str(split), out=str(out), folds="0", epochs=2, eid_epochs=1,
        max_steps=2, batch_size=4, image_size=32, weights="none", workers=0, device="cpu",
        expr_dim=16, id_dim=16,
    )  # fmt: skip
    return TrainConfig(**{**options, **changes})


def held_out_keys(data, fold: int) -> set[str]:
    split = pd.read_parquet(data[1])
    rows = split[split["fold"] == fold]
    return set(rows.loc[rows["role"] == "test", "key"])


class Crash:
    """Batch hook that stops the run at a phase's n-th batch."""

    def __init__(self, phase: str, at: int):
        self.phase, self.at, self.count = phase, at, 0

    def __call__(self, phase: str, keys: list[str]) -> None:
        if phase == self.phase:
            if self.count == self.at:
                raise KeyboardInterrupt("simulated kill")
            self.count += 1


def test_heldout_predictions_after_every_epoch_survive_a_resume(data, tmp_path):
    cfg = dict(eid=False, losses="cls", epochs=3)
    run_loso(small(data, tmp_path / "whole", **cfg))
    whole = pd.read_parquet(tmp_path / "whole" / "fold-000" / "heldout_by_epoch.parquet")
    assert sorted(whole["epoch"].unique()) == [0, 1, 2]
    assert set(whole["key"]) == held_out_keys(data, 0)
    last = whole[whole["epoch"] == 2].drop(columns="epoch").reset_index(drop=True)
    fixed = pd.read_parquet(tmp_path / "whole" / "fold-000" / "predictions.parquet")
    pd.testing.assert_frame_equal(last, fixed)  # the last epoch is the fixed-epoch result
    # killed in the third epoch: the first two epochs' rows are kept, the third is added
    with pytest.raises(KeyboardInterrupt):
        run_loso(small(data, tmp_path / "cut", **cfg), batch_hook=Crash("fold 0 mtmnet", 4))
    part = pd.read_parquet(tmp_path / "cut" / "fold-000" / "heldout_by_epoch.parquet")
    assert sorted(part["epoch"].unique()) == [0, 1]
    run_loso(small(data, tmp_path / "cut", **cfg))
    pd.testing.assert_frame_equal(
        pd.read_parquet(tmp_path / "cut" / "fold-000" / "heldout_by_epoch.parquet"), whole
    )


def test_inner_loso_never_reads_a_held_out_key(data, tmp_path, monkeypatch):
    """Every key the training side reads: training batches (all phases, inner folds
    included), the images handed to the epoch choice, and every per-epoch prediction that
    does not go to the held-out diagnostics file."""
    batches: dict[str, list[str]] = defaultdict(list)
    predicted: dict[str, set[str]] = defaultdict(set)
    handed: list[set[str]] = []
    real_predict, real_select = mtmnet.predict, loso.select_epoch
    real_inner = loso.mtmnet_inner_trainer

    def record_predict(micro, *args, **kwargs):
        items = inspect.signature(real_predict).bind(micro, *args, **kwargs).arguments["items"]
        predicted["all"] |= {i.key for i in items}
        return real_predict(micro, *args, **kwargs)

    def record_inner(config, runtime, fold, classes, train_pool, *rest):
        handed.append(set(train_pool) | {i.key for i in fold.train})
        return real_inner(config, runtime, fold, classes, train_pool, *rest)

    def record_select(config, runtime, fold, classes, folder, train_inner):
        chosen = real_select(config, runtime, fold, classes, folder, train_inner)
        predicted["inner"] = set(
            pd.concat(
                pd.read_parquet(p) for p in (folder / "inner").glob("*/inner_val_by_epoch.parquet")
            )["key"]
        )
        return chosen

    for module in (loso, selection_module):  # both bind mtmnet.predict to the clips they predict
        monkeypatch.setattr(module, "predict", record_predict)
    monkeypatch.setattr(loso, "mtmnet_inner_trainer", record_inner)
    monkeypatch.setattr(loso, "select_epoch", record_select)
    config = small(data, tmp_path, select="inner-loso", losses="cls,tri", inner_k=2)
    run_loso(config, batch_hook=lambda phase, keys: batches[phase].extend(keys))
    held = held_out_keys(data, 0)
    assert held
    inner_phases = {p for p in batches if "inner" in p}
    assert inner_phases == {
        "fold 0 inner 0 micronet", "fold 0 inner 0 mtmnet",
        "fold 0 inner 1 micronet", "fold 0 inner 1 mtmnet",
    }  # fmt: skip
    for phase, keys in batches.items():
        assert keys and not set(keys) & held, phase
    assert len(handed) == 1 and handed[0] and not handed[0] & held
    assert predicted["inner"] and not predicted["inner"] & held
    assert held <= predicted["all"]  # the held-out clips went to the diagnostics only
    selection = json.loads((tmp_path / "fold-000" / "inner_selection.json").read_text())
    assert selection["metric"] == "uf1" and selection["epoch"] in (0, 1)
    assert len(selection["scores_by_epoch"]) == 2
    assert not list((tmp_path / "fold-000" / "inner").glob("*/*.pt"))  # weights removed


def test_seeds_with_inner_loso_then_report_has_all_three_results(data, tmp_path):
    root, split = data
    options = [
        "--data", str(root), "--split", str(split), "--out", str(tmp_path), "--folds", "0",
        "--epochs", "2", "--max-steps", "1", "--batch-size", "4", "--image-size", "32",
        "--weights", "none", "--workers", "0", "--device", "cpu", "--expr-dim", "16",
        "--id-dim", "16", "--no-eid", "--losses", "cls", "--seeds", "0,1",
        "--select", "inner-loso", "--inner-k", "2",
    ]  # fmt: skip
    runner = CliRunner()
    result = runner.invoke(main, ["loso", *options])
    assert result.exit_code == 0, result.output
    for seed in (0, 1):
        saved = json.loads((tmp_path / f"seed-{seed}" / "config.json").read_text())
        assert saved["seed"] == seed and saved["seeds"] == ""
        assert (tmp_path / f"seed-{seed}" / "fold-000" / "inner_selection.json").exists()
    metrics = json.loads((tmp_path / "metrics.json").read_text())
    assert metrics["seeds"] == [0, 1] and set(metrics["summary"]) == {"fixed", "inner", "oracle"}
    values = [metrics["per_seed"][s]["results"]["fixed"]["scores"]["all"]["uf1"] for s in "01"]
    summary = metrics["summary"]["fixed"]["scores"]["all"]["uf1"]
    assert summary["values"] == values
    assert summary["mean"] == pytest.approx(sum(values) / 2)
    assert summary["std"] == pytest.approx(abs(values[0] - values[1]) / 2**0.5)
    # rerun: every seed is finished, nothing trains again
    count = []
    assert run_loso(
        TrainConfig(**{**json.loads((tmp_path / "config.json").read_text())}),
        batch_hook=lambda phase, keys: count.append(phase),
    )
    assert not count
    result = runner.invoke(main, ["report", str(tmp_path)])
    assert result.exit_code == 0, result.output
    page = (tmp_path / "report.md").read_text()
    for text in ("fixed epoch", "inner validation", "oracle (leaky, optimistic)",
                 "inflation (oracle − fixed", "## Per-subject results", "## Data", "sha256",
                 "mean", "± "):  # fmt: skip
        assert text in page, text
    pooled = pd.read_parquet(tmp_path / "predictions.parquet")
    assert sorted(pooled["seed"].unique()) == [0, 1]
