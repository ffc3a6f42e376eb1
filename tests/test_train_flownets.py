"""The flow-based reference models (--model ststnet|offapexnet): shapes, the flow input,
a two-fold CPU LOSO on synthetic shards with flow, resume after a kill, and the one-line
errors (shards without flow, the phase commands, a resumed run with another model)."""

import json

import numpy as np
import pandas as pd
import pytest
import torch
from click.testing import CliRunner

from mepipe.errors import MepipeError
from mepipe_train.cli import main
from mepipe_train.config import TrainConfig
from mepipe_train.flownets import (
    INPUT_SIZE,
    OFFApexNet,
    STSTNet,
    flow_input,
    new_flow_net,
    resize_flow,
)
from mepipe_train.loso import run_loso
from mepipe_train.synthetic import SyntheticSpec, build

torch.set_num_threads(1)

FOLDS = "0,2"  # one CASME II and one SMIC subject held out


@pytest.fixture(scope="module")
def data(tmp_path_factory):
    root = tmp_path_factory.mktemp("flowdata")
    return root, build(root, SyntheticSpec(flow=True))


def small(data, out, model, **changes) -> TrainConfig:
    root, split = data
    options = dict(
        data=str(root), split=str(split), out=str(out), folds=FOLDS, model=model,
        flow_epochs=2, flow_batch_size=4, max_steps=2, workers=0, device="cpu",
    )  # fmt: skip
    return TrainConfig(**{**options, **changes})


def test_synthetic_flow_data_verify_like_ingested_data(data):
    """The trainer's test data carry the flow members as `mepipe ingest --flow` writes them."""
    from mepipe.cli import main as mepipe_main

    result = CliRunner().invoke(mepipe_main, ["verify", "--data", str(data[0])])
    assert result.exit_code == 0, result.output


def test_output_shapes_of_both_models():
    x = torch.rand(4, 3, INPUT_SIZE, INPUT_SIZE)
    assert STSTNet(n_classes=3)(x).shape == (4, 3)
    assert OFFApexNet(n_classes=5)(x[:, :2]).shape == (4, 5)
    assert new_flow_net("ststnet", 3).classifier.in_features == 16 * 5 * 5
    # OFF-ApexNet's two streams read u and v apart: changing v alone changes the output
    net = OFFApexNet(n_classes=3).eval()
    other = x[:, :2].clone()
    other[:, 1] += 1
    assert not torch.allclose(net(x[:, :2]), net(other))


def test_flow_is_resized_with_area_and_scaled_to_28_pixels():
    flow = np.zeros((2, 56, 56), np.float16)
    flow[0] = 2.0  # 2 px to the right at 56 px is 1 px at 28 px
    flow[1, :28] = -4.0  # upwards in the top half
    small_flow = resize_flow(flow)
    assert small_flow.shape == (2, 28, 28)
    assert np.allclose(small_flow[0], 1.0)
    assert np.allclose(small_flow[1, :14], -2.0) and np.allclose(small_flow[1, 14:], 0.0)
    planes = flow_input(flow, np.ones((56, 56), np.float16), ("u", "v", "strain"))
    assert planes.shape == (3, 28, 28) and planes.dtype == np.float32
    # u and v share one scale (the largest |u| or |v|): their ratio survives
    assert np.allclose(planes[0], 0.5) and np.allclose(planes[1, :14], -1.0)
    assert np.allclose(planes[2], 1.0)


@pytest.mark.parametrize("model", ["ststnet", "offapexnet"])
def test_two_fold_loso_writes_metrics_and_predictions(data, tmp_path, model):
    metrics = run_loso(small(data, tmp_path, model))
    saved = json.loads((tmp_path / "metrics.json").read_text())
    assert saved == metrics and saved["folds"] == [0, 2]
    assert saved["scores"]["all"]["samples"] == 6
    assert (tmp_path / "confusion.png").exists()
    table = pd.read_parquet(tmp_path / "predictions.parquet")
    assert {"key", "fold", "database", "subject", "true_label", "true_index"} <= set(table)
    assert {"pred_label", "pred_index", "prob_negative", "prob_positive"} <= set(table)
    assert table.filter(like="prob_").sum(axis=1).round(5).eq(1).all()
    for fold in ("fold-000", "fold-002"):
        assert (tmp_path / fold / f"{model}.pt").exists()
        assert not (tmp_path / fold / f"{model}.ckpt").exists()
        log = pd.read_csv(tmp_path / fold / f"{model}-log.csv")
        assert log["epoch"].tolist() == [0, 0, 1, 1] and log["L_cls"].notna().all()
    # no MacroNet and no macro data: the flow models train on micro clips only
    assert not (tmp_path / "macronet.pt").exists()


def test_held_out_subject_and_macro_clips_never_reach_training(data, tmp_path):
    seen: dict[str, list[str]] = {}
    run_loso(
        small(data, tmp_path, "ststnet"),
        batch_hook=lambda phase, keys: seen.setdefault(phase, []).extend(keys),
    )
    split = pd.read_parquet(data[1])
    assert set(seen) == {"fold 0 ststnet", "fold 2 ststnet"}
    for fold in (0, 2):
        rows = split[split["fold"] == fold]
        held = set(rows.loc[rows["role"] == "test", "key"])
        keys = set(seen[f"fold {fold} ststnet"])
        assert keys and not keys & held
        assert not any(k.startswith("ckplus") for k in keys)


class Kill:
    """Batch hook that stops the run at the n-th training batch of a phase."""

    def __init__(self, phase: str, at: int):
        self.phase, self.at, self.count = phase, at, 0

    def __call__(self, phase: str, keys: list[str]) -> None:
        if phase == self.phase:
            if self.count == self.at:
                raise KeyboardInterrupt("simulated kill")
            self.count += 1


def test_killed_fold_resumes_to_the_same_predictions(data, tmp_path):
    whole = tmp_path / "whole"
    metrics = run_loso(small(data, whole, "ststnet", folds="1"))
    killed = tmp_path / "killed"
    with pytest.raises(KeyboardInterrupt):  # in the second epoch, after one was saved
        run_loso(small(data, killed, "ststnet", folds="1"), batch_hook=Kill("fold 1 ststnet", 2))
    assert (killed / "fold-001" / "ststnet.ckpt").exists()
    assert not (killed / "fold-001" / "predictions.parquet").exists()
    assert run_loso(small(data, killed, "ststnet", folds="1")) == metrics
    pd.testing.assert_frame_equal(
        pd.read_parquet(killed / "predictions.parquet"),
        pd.read_parquet(whole / "predictions.parquet"),
    )
    assert (killed / "fold-001" / "ststnet.pt").read_bytes() == (
        whole / "fold-001" / "ststnet.pt"
    ).read_bytes()


def test_shards_without_flow_name_the_ingest_option(tmp_path):
    root = tmp_path / "data"
    split = build(root, SyntheticSpec(flow=False, micro={"casme2": 2}, macro={}))
    result = CliRunner().invoke(
        main,
        ["loso", "--model", "ststnet", "--data", str(root), "--split", str(split),
         "--out", str(tmp_path / "run"), "--workers", "0", "--device", "cpu"],
    )  # fmt: skip
    assert result.exit_code == 1
    lines = result.output.strip().splitlines()
    assert len(lines) == 1 and lines[0].startswith("Error:"), result.output
    assert str(root / "casme2" / "shards") in lines[0]
    assert "mepipe ingest casme2 RAW --out DATA --flow tvl1" in lines[0]
    assert "Traceback" not in result.output


def test_unknown_model_and_phase_commands_are_refused(data, tmp_path):
    runner = CliRunner()
    result = runner.invoke(main, ["loso", "--model", "htnet", "--out", str(tmp_path)])
    assert result.exit_code == 1 and "--model must be one of eidnet, ststnet, offapexnet" in (
        result.output
    )
    result = runner.invoke(main, ["mtmnet", "--model", "offapexnet", "--out", str(tmp_path)])
    assert result.exit_code == 1 and "mepipe-train loso --model offapexnet" in result.output
    assert not TrainConfig(model="ststnet").needs_macronet


def test_resuming_a_run_with_another_model_is_refused(data, tmp_path):
    run_loso(small(data, tmp_path, "offapexnet", folds="1", flow_epochs=1))
    with pytest.raises(MepipeError, match="model"):
        run_loso(small(data, tmp_path, "ststnet", folds="1", flow_epochs=1))


def test_two_process_ddp_run_of_a_flow_model(data, tmp_path):
    """STSTNet under torchrun (two CPU processes, gloo): every held-out clip predicted once."""
    from test_train_ddp import torchrun_loso

    root, split = data
    run = tmp_path / "run"
    options = [
        "--model", "ststnet", "--data", str(root), "--split", str(split), "--out", str(run),
        "--folds", "2", "--flow-epochs", "2", "--flow-batch-size", "2", "--workers", "2",
        "--device", "cpu",
    ]  # fmt: skip
    done = torchrun_loso(options)
    assert json.loads((run / "run.json").read_text())["world_size"] == 2
    table = pd.read_parquet(run / "predictions.parquet")
    expected = pd.read_parquet(split).query("fold == 2 and role == 'test'")
    assert sorted(table["key"]) == sorted(expected["key"])
    assert (run / "fold-002" / "ststnet.pt").exists() and "UF1" in done.stdout


def test_flow_loso_with_inner_loso_then_report_has_all_three_results(data, tmp_path):
    """A flow model's folds write the held-out predictions after every epoch (one row per
    clip per epoch), timing.json and, under --select inner-loso, an epoch chosen on inner
    folds of the training subjects alone; `report` then gives fixed, inner and oracle."""
    root, split = data
    seen: dict[str, list[str]] = {}
    config = small(
        data, tmp_path, "ststnet", flow_epochs=3, select="inner-loso", inner_k=2
    )  # fmt: skip
    run_loso(config, batch_hook=lambda phase, keys: seen.setdefault(phase, []).extend(keys))
    table = pd.read_parquet(split)
    for fold in (0, 2):
        folder = tmp_path / f"fold-{fold:03d}"
        rows = table[table["fold"] == fold]
        held = set(rows.loc[rows["role"] == "test", "key"])
        by_epoch = pd.read_parquet(folder / "heldout_by_epoch.parquet")
        assert by_epoch.groupby("epoch")["key"].apply(sorted).to_dict() == {
            e: sorted(held) for e in (0, 1, 2)
        }
        assert not by_epoch.duplicated(["epoch", "key"]).any()
        last = by_epoch[by_epoch["epoch"] == 2].drop(columns="epoch").reset_index(drop=True)
        pd.testing.assert_frame_equal(last, pd.read_parquet(folder / "predictions.parquet"))
        timing = json.loads((folder / "timing.json").read_text())
        assert {"load", "steps", "diagnostics", "predict"} <= set(timing["seconds"])
        assert timing["total"] >= timing["seconds"]["steps"] > 0
        selection = json.loads((folder / "inner_selection.json").read_text())
        assert selection["epoch"] in (0, 1, 2) and len(selection["scores_by_epoch"]) == 3
        inner_val = pd.concat(
            pd.read_parquet(p) for p in (folder / "inner").glob("*/inner_val_by_epoch.parquet")
        )
        assert set(inner_val["key"]) and not set(inner_val["key"]) & held
        assert set(inner_val["epoch"]) == {0, 1, 2}
        assert not list((folder / "inner").glob("*/*.pt"))  # inner weights removed
        for j in (0, 1):
            keys = seen[f"fold {fold} inner {j} ststnet"]
            assert keys and not set(keys) & held
    result = CliRunner().invoke(main, ["report", str(tmp_path)])
    assert result.exit_code == 0, result.output
    metrics = json.loads((tmp_path / "metrics.json").read_text())
    results = metrics["results"]
    assert set(results) == {"fixed", "inner", "oracle"}
    assert results["fixed"]["epochs"] == 3 and results["oracle"]["folds"] == [0, 2]
    assert metrics["folds_without_diagnostics"] == []
    # the oracle takes each held-out subject's most-correct epoch: never fewer correct clips
    fixed, oracle = (results[k]["scores"]["all"]["acc"] for k in ("fixed", "oracle"))
    assert oracle >= fixed
    assert results["oracle"]["inflation"]["all"]["acc"] == pytest.approx(oracle - fixed)
    chosen = {str(f): json.loads((tmp_path / f"fold-{f:03d}" / "inner_selection.json")
                                 .read_text())["epoch"] for f in (0, 2)}  # fmt: skip
    assert results["inner"]["epochs"] == chosen
    assert len(metrics["heldout_uf1_by_epoch"]) == 3
    page = (tmp_path / "report.md").read_text()
    assert "`--model ststnet` on optical flow, 3 STSTNet epochs" in page
    assert "inner validation" in page and "oracle" in page
    assert (tmp_path / "report" / "curves.png").exists()


def test_two_jobs_give_the_serial_flow_predictions(data, tmp_path):
    serial = tmp_path / "serial"
    metrics = run_loso(small(data, serial, "ststnet"))
    assert run_loso(small(data, tmp_path / "jobs", "ststnet", jobs="2")) == metrics
    for name in ("predictions.parquet", "fold-000/heldout_by_epoch.parquet"):
        pd.testing.assert_frame_equal(
            pd.read_parquet(tmp_path / "jobs" / name), pd.read_parquet(serial / name)
        )
    assert (tmp_path / "jobs" / "fold-002" / "timing.json").exists()


def test_data_on_device_and_final_are_refused_for_flow_models(data, tmp_path):
    from cli_helpers import error_line

    with pytest.raises(MepipeError, match="--data-on-device on is for --model eidnet"):
        small(data, tmp_path, "ststnet", data_on_device="on")
    root, split = data
    line = error_line(
        CliRunner().invoke(
            main,
            [
                "final",
                "--model",
                "offapexnet",
                "--data",
                str(root),
                "--split",
                str(split),
                "--out",
                str(tmp_path / "model"),
            ],
        )  # fmt: skip
    )
    assert "trains EIDNet/MTMNet only" in line and "--model offapexnet" in line
    assert not (tmp_path / "model").exists()


def test_jobs_auto_counts_a_flow_fold_as_small():
    from mepipe_train.parallel import FOLD_BASE_BYTES, fold_memory

    assert fold_memory(TrainConfig(model="ststnet"), 5000) == FOLD_BASE_BYTES
    assert fold_memory(TrainConfig(), 5000) > 2 * FOLD_BASE_BYTES
