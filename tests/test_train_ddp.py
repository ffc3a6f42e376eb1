"""Two training processes on CPU (gloo) under torchrun: the run finishes, saves the
configuration it was given, and predicts every held-out clip once. Shards are split by node
(rank 1 gets a single shard) and then by two loader workers: an empty split must not hang."""

import json
import os
import subprocess
import sys

import pandas as pd

from mepipe_train.config import TrainConfig
from mepipe_train.synthetic import SyntheticSpec, build


def torchrun_loso(options: list[str]) -> subprocess.CompletedProcess:
    """`mepipe-train loso` in two CPU processes under torchrun; fails the test if it fails."""
    command = [sys.executable, "-m", "torch.distributed.run", "--standalone", "--nproc-per-node", "2",
               "-m", "mepipe_train.cli", "loso", *options]  # fmt: skip
    env = {**os.environ, "OMP_NUM_THREADS": "1"}
    done = subprocess.run(command, capture_output=True, text=True, timeout=150, env=env)
    assert done.returncode == 0, done.stdout[-3000:] + done.stderr[-3000:]
    return done


def test_two_process_ddp_run(tmp_path):
    split = build(
        tmp_path / "data", SyntheticSpec(micro={"casme2": 2, "smic": 1}, macro={"ckplus": 1})
    )
    run = tmp_path / "run"
    options = [
        "--data", str(tmp_path / "data"), "--split", str(split), "--out", str(run),
        "--folds", "0,2", "--epochs", "1", "--eid-epochs", "1", "--max-steps", "2",
        "--batch-size", "2", "--image-size", "32", "--weights", "none", "--workers", "2",
        "--device", "cpu", "--expr-dim", "16", "--id-dim", "16", "--seed", "5",
    ]  # fmt: skip
    done = torchrun_loso(options)
    saved = json.loads((run / "config.json").read_text())
    given = TrainConfig(
        data=str(tmp_path / "data"), split=str(split), out=str(run), folds="0,2", epochs=1,
        eid_epochs=1, max_steps=2, batch_size=2, image_size=32, weights="none", workers=2,
        device="cpu", expr_dim=16, id_dim=16, seed=5,
    )  # fmt: skip
    assert saved == given.to_dict()
    assert json.loads((run / "run.json").read_text())["world_size"] == 2
    table = pd.read_parquet(run / "predictions.parquet")
    expected = pd.read_parquet(split).query("fold in [0, 2] and role == 'test'")
    assert sorted(table["key"]) == sorted(expected["key"])
    assert "UF1" in done.stdout


def test_ddp_with_classes_that_have_no_macro_positive(tmp_path):
    """casme2_5class with CK+: repression has no macro class, so some batches on one rank have
    no positive while the other rank's do; the adversarial step must not stall the ranks."""
    split = build(
        tmp_path / "data",
        SyntheticSpec(micro={"casme2": 3}, macro={"ckplus": 1}, protocol="casme2_5class"),
    )
    run = tmp_path / "run"
    options = [
        "--data", str(tmp_path / "data"), "--split", str(split), "--out", str(run),
        "--protocol", "casme2_5class", "--folds", "0", "--epochs", "2", "--eid-epochs", "1",
        "--max-steps", "2", "--batch-size", "1", "--image-size", "32", "--weights", "none",
        "--workers", "0", "--device", "cpu", "--expr-dim", "16", "--id-dim", "16",
    ]  # fmt: skip
    torchrun_loso(options)
    log = pd.read_csv(run / "log.csv")
    assert (log["phase"].str.contains("mtmnet")).any()
