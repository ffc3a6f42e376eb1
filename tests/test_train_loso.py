"""End-to-end LOSO on tiny rendered shards: outputs, same seed same metrics, leak-freedom,
resume after a crash, the --no-eid cls baseline, and the phase-by-phase commands."""

import json
from collections import defaultdict

import pandas as pd
import pytest
import torch
from click.testing import CliRunner

from mepipe.errors import MepipeError
from mepipe_train.cli import main
from mepipe_train.config import TrainConfig
from mepipe_train.loso import run_loso
from mepipe_train.synthetic import SyntheticSpec, build

torch.set_num_threads(1)

# folds 0 and 2: one CASME II subject and one SMIC subject held out
FOLDS = "0,2"


@pytest.fixture(scope="module")
def data(tmp_path_factory):
    root = tmp_path_factory.mktemp("data")
    return root, build(root, SyntheticSpec())


def small(data, out, **changes) -> TrainConfig:
    root, split = data
    options = dict(
        data=str(root), split=str(split), out=str(out), folds=FOLDS, epochs=2, eid_epochs=2,
        max_steps=2, batch_size=4, image_size=32, weights="none", workers=0, device="cpu",
        expr_dim=32, id_dim=32,
    )  # fmt: skip
    return TrainConfig(**{**options, **changes})


class Recorder:
    """Batch hook: the keys of every training batch, per phase; can crash on a given batch."""

    def __init__(self, crash_phase: str | None = None, crash_at: int = -1):
        self.keys: dict[str, list[str]] = defaultdict(list)
        self.batches: dict[str, int] = defaultdict(int)
        self.crash_phase, self.crash_at = crash_phase, crash_at

    def __call__(self, phase: str, keys: list[str]) -> None:
        if phase == self.crash_phase and self.batches[phase] == self.crash_at:
            raise KeyboardInterrupt("simulated kill")
        self.batches[phase] += 1
        self.keys[phase] += keys


@pytest.fixture(scope="module")
def reference(data, tmp_path_factory):
    run = tmp_path_factory.mktemp("reference")
    recorder = Recorder()
    metrics = run_loso(small(data, run), batch_hook=recorder)
    return run, metrics, recorder


def test_outputs_of_a_two_fold_run(reference):
    run, metrics, _ = reference
    for name in (
        "config.json",
        "metrics.json",
        "predictions.parquet",
        "confusion.png",
        "reconstruction.png",
        "log.csv",
        "macronet.pt",
    ):
        assert (run / name).exists(), name
    for fold in ("fold-000", "fold-002"):
        for name in ("micronet.pt", "mtmnet.pt", "predictions.parquet", "reconstruction.png"):
            assert (run / fold / name).exists(), (fold, name)
    assert not (run / "fold-001").exists()
    table = pd.read_parquet(run / "predictions.parquet")
    assert set(table.columns) >= {
        "key",
        "fold",
        "true_label",
        "pred_label",
        "prob_negative",
        "prob_positive",
        "prob_surprise",
    }
    assert sorted(table["fold"].unique()) == [0, 2]
    assert (
        table[["prob_negative", "prob_positive", "prob_surprise"]].sum(axis=1).round(5).eq(1).all()
    )
    assert set(table["database"]) == {"casme2", "smic"}
    saved = json.loads((run / "metrics.json").read_text())
    assert set(saved["scores"]) == {"all", "casme2", "smic"}
    assert saved["scores"]["all"]["samples"] == len(table) == 6
    log = pd.read_csv(run / "log.csv")
    assert {
        "L_EID",
        "L_c",
        "L_rec",
        "L_sim",
        "L_s",
        "L_MTM",
        "L_cls",
        "L_tri",
        "L_adv",
        "L_LIR",
        "L_D",
    } <= set(log.columns)
    # 2 epochs x 2 steps for MacroNet and for each fold's MicroNet and MTMNet
    assert len(log) == 4 * 5 and log["L_MTM"].notna().sum() == 8


def test_same_seed_same_metrics(data, reference, tmp_path):
    run, metrics, _ = reference
    again = run_loso(small(data, tmp_path))
    assert again == metrics
    first = pd.read_parquet(run / "predictions.parquet")
    second = pd.read_parquet(tmp_path / "predictions.parquet")
    pd.testing.assert_frame_equal(first, second)


def test_held_out_subject_never_reaches_a_training_batch(data, reference):
    _, _, recorder = reference
    split = pd.read_parquet(data[1])
    assert set(recorder.keys) == {
        "macronet",
        "fold 0 micronet",
        "fold 0 mtmnet",
        "fold 2 micronet",
        "fold 2 mtmnet",
    }
    assert all(k.startswith("ckplus__") for k in recorder.keys["macronet"])
    for fold in (0, 2):
        rows = split[split["fold"] == fold]
        held = set(rows.loc[rows["role"] == "test", "key"])
        assert held
        for phase in (f"fold {fold} micronet", f"fold {fold} mtmnet"):
            seen = set(recorder.keys[phase])
            assert seen and not seen & held, phase
        # MTMNet also saw macro positives and micro negatives, all from the training side
        assert any(k.startswith("ckplus__") for k in recorder.keys[f"fold {fold} mtmnet"])


def test_resume_after_a_crash_gives_the_same_metrics(data, reference, tmp_path):
    _, metrics, _ = reference
    # killed during fold 2's MTMNet, second epoch (fold 0 and one MTMNet epoch are done)
    crash = Recorder(crash_phase="fold 2 mtmnet", crash_at=2)
    with pytest.raises(KeyboardInterrupt):
        run_loso(small(data, tmp_path), batch_hook=crash)
    assert (tmp_path / "fold-000" / "predictions.parquet").exists()
    assert (tmp_path / "fold-002" / "mtmnet.ckpt").exists()
    assert not (tmp_path / "fold-002" / "mtmnet.pt").exists()
    resumed = Recorder()
    assert run_loso(small(data, tmp_path), batch_hook=resumed) == metrics
    # only the missing epoch was trained again
    assert dict(resumed.batches) == {"fold 2 mtmnet": 2}
    log = pd.read_csv(tmp_path / "fold-002" / "mtmnet-log.csv")
    assert log["epoch"].tolist() == [0, 0, 1, 1]


def test_rerun_with_another_method_in_the_same_run_is_refused(data, reference):
    run, _, _ = reference
    with pytest.raises(MepipeError, match="lambda_tri"):
        run_loso(small(data, run, lambda_tri=0.5))


def test_no_eid_cls_baseline_needs_no_macro_data(data, tmp_path):
    recorder = Recorder()
    metrics = run_loso(
        small(data, tmp_path, eid=False, losses="cls", folds="1"), batch_hook=recorder
    )
    assert set(recorder.keys) == {"fold 1 mtmnet"}
    assert not any(k.startswith("ckplus") for k in recorder.keys["fold 1 mtmnet"])
    assert (
        not (tmp_path / "macronet.pt").exists()
        and not (tmp_path / "fold-001" / "micronet.pt").exists()
    )
    assert metrics["scores"]["all"]["samples"] == 3


def test_phase_commands_and_evaluate(data, tmp_path):
    root, split = data
    common = [
        "--data", str(root), "--split", str(split), "--out", str(tmp_path), "--folds", "3",
        "--epochs", "1", "--eid-epochs", "1", "--max-steps", "1", "--batch-size", "4",
        "--image-size", "32", "--weights", "none", "--workers", "0", "--device", "cpu",
        "--expr-dim", "16", "--id-dim", "16", "--losses", "cls,adv",
    ]  # fmt: skip
    runner = CliRunner()
    result = runner.invoke(main, ["mtmnet", *common])
    assert result.exit_code == 1 and "eidnet --role macro" in result.output
    assert runner.invoke(main, ["eidnet", "--role", "macro", *common]).exit_code == 0
    assert runner.invoke(main, ["eidnet", "--role", "micro", *common]).exit_code == 0
    assert (tmp_path / "macronet.pt").exists() and (tmp_path / "fold-003" / "micronet.pt").exists()
    result = runner.invoke(main, ["mtmnet", "--config", str(tmp_path)])
    assert result.exit_code == 0, result.output
    result = runner.invoke(main, ["evaluate", str(tmp_path)])
    assert result.exit_code == 0 and "UF1" in result.output and "smic" in result.output


def test_demo_command_runs_two_folds_of_two_databases(data, tmp_path):
    root, split = data
    result = CliRunner().invoke(
        main, ["demo", "--data", str(root), "--split", str(split), "--out", str(tmp_path)]
    )
    assert result.exit_code == 0, result.output
    assert "UF1" in result.output
    metrics = json.loads((tmp_path / "metrics.json").read_text())
    assert set(metrics["scores"]) == {"all", "casme2", "smic"} and len(metrics["folds"]) == 2
    # then a final model on all subjects and `predict` on the demo video (mepipe_train.demo)
    assert (tmp_path / "final" / "model" / "model.json").exists()
    assert (tmp_path / "final" / "predict" / "intervals.csv").exists()


def test_phase_by_phase_gives_the_loso_run(data, reference, tmp_path):
    """`eidnet --role macro`, `eidnet --role micro`, then `mtmnet` go through the fold loop
    of `loso` (run_folds), loading phase 1 instead of training it: the same predictions."""
    from mepipe_train.stages import finetune, pretrain

    run, metrics, _ = reference
    config = small(data, tmp_path)
    pretrain(config, "macro")
    pretrain(config, "micro")
    steps_before = pd.read_csv(tmp_path / "macronet-log.csv")
    assert finetune(config)["scores"] == metrics["scores"]
    pd.testing.assert_frame_equal(
        pd.read_parquet(tmp_path / "predictions.parquet"),
        pd.read_parquet(run / "predictions.parquet"),
    )
    # Phase 2 loaded MacroNet and the MicroNets: no step was added to their logs.
    pd.testing.assert_frame_equal(pd.read_csv(tmp_path / "macronet-log.csv"), steps_before)
