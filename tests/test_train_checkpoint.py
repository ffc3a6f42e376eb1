"""Checkpoints are untrusted input (issue 8, items 1 and 12): a `.ckpt` or `.pt` never runs
code, a damaged one is refused with one line naming it, and a run killed with SIGKILL in
the middle of a phase resumes to byte-identical results."""

from __future__ import annotations

import os
import random
import shlex
import signal
import subprocess
import sys
import time
from pathlib import Path

import numpy as np
import pytest
import torch
from cli_helpers import error_line
from click.testing import CliRunner

from mepipe.errors import MepipeError
from mepipe_train.checkpoint import load_weights, restore_rng, rng_state
from mepipe_train.cli import main
from mepipe_train.synthetic import SyntheticSpec, build

torch.set_num_threads(1)


@pytest.fixture(scope="module")
def data(tmp_path_factory):
    root = tmp_path_factory.mktemp("data")
    split = build(root, SyntheticSpec(micro={"casme2": 2, "smic": 1}, macro={"ckplus": 1}))
    return root, split


def options(data, run: Path, epochs: int = 1) -> list[str]:
    root, split = data
    return [
        "--data", str(root), "--split", str(split), "--out", str(run), "--folds", "0",
        "--epochs", str(epochs), "--eid-epochs", str(epochs), "--max-steps", "1",
        "--batch-size", "4", "--image-size", "32", "--weights", "none", "--workers", "0",
        "--device", "cpu", "--expr-dim", "16", "--id-dim", "16",
    ]  # fmt: skip


def loso(data, run: Path):
    return CliRunner().invoke(main, ["loso", *options(data, run)])


class RunsAShellCommand:
    """Pickles as a call of os.system: what a hostile run folder would hold."""

    def __init__(self, command: str):
        self.command = command

    def __reduce__(self):
        return os.system, (self.command,)


def test_resume_refuses_a_checkpoint_that_would_run_code(data, tmp_path):
    run, marker = tmp_path / "run", tmp_path / "marker"
    run.mkdir()
    hostile = run / "macronet.ckpt"
    payload = RunsAShellCommand(f"touch {shlex.quote(str(marker))}")
    torch.save({"modules": payload, "optimizers": {}, "epochs_done": 1, "log": []}, hostile)
    line = error_line(loso(data, run))
    assert str(hostile) in line and "system, which a weights file never does" in line
    assert not marker.exists()  # the payload never ran
    assert not (run / "macronet.pt").exists()


def _valid_layout(path: Path) -> None:
    torch.save({"modules": {}, "optimizers": {}, "epochs_done": 1, "log": []}, path)


@pytest.mark.parametrize(
    "damage, message",
    [
        ("truncated", "not a valid weights file"),
        ("garbage", "not a valid weights file"),
        ("empty", "not a valid weights file"),
        ("a bare tensor", "not a training checkpoint"),
        ("wrong keys", "not a training checkpoint"),
        ("foreign weights", "weights do not fit"),
        ("bad epochs_done", "epochs_done"),
    ],
)
def test_damaged_checkpoint_is_named_in_one_line(data, tmp_path, damage, message):
    run = tmp_path / "run"
    run.mkdir()
    path = run / "macronet.ckpt"
    if damage == "truncated":
        _valid_layout(path)
        path.write_bytes(path.read_bytes()[: path.stat().st_size // 2])
    elif damage == "garbage":
        path.write_bytes(b"\x80\x04not a checkpoint at all" * 40)
    elif damage == "empty":
        path.write_bytes(b"")
    elif damage == "a bare tensor":
        torch.save(torch.zeros(3), path)
    elif damage == "wrong keys":
        torch.save({"weights": torch.zeros(2)}, path)
    elif damage == "foreign weights":
        other = {"net": {"layer.weight": torch.zeros(2)}}
        torch.save({"modules": other, "optimizers": {}, "epochs_done": 1, "log": []}, path)
    else:
        torch.save({"modules": {}, "optimizers": {}, "epochs_done": "1", "log": []}, path)
    line = error_line(loso(data, run))
    assert str(path) in line and message in line and "delete it" in line


def test_damaged_final_weights_are_named(data, tmp_path):
    run = tmp_path / "run"
    run.mkdir()
    (run / "macronet.pt").write_bytes(b"PK\x03\x04 truncated zip")
    line = error_line(loso(data, run))
    assert str(run / "macronet.pt") in line and "not a valid weights file" in line


def test_load_weights_refuses_code_and_names_the_file(tmp_path):
    path, marker = tmp_path / "w.pth", tmp_path / "marker"
    torch.save(RunsAShellCommand(f"touch {shlex.quote(str(marker))}"), path)
    with pytest.raises(MepipeError, match="which a weights file never does") as caught:
        load_weights(path, "cpu", "try another file")
    assert caught.value.path == str(path) and not marker.exists()


def test_random_states_survive_a_weights_only_round_trip(tmp_path):
    path = tmp_path / "rng.ckpt"
    torch.manual_seed(3), np.random.seed(3), random.seed(3)
    torch.save({"rng": rng_state()}, path)
    expected = (torch.rand(4), np.random.rand(4), [random.random() for _ in range(4)])
    torch.manual_seed(9), np.random.seed(9), random.seed(9)
    restore_rng(torch.load(path, weights_only=True)["rng"], path)
    assert torch.equal(torch.rand(4), expected[0])
    assert np.array_equal(np.random.rand(4), expected[1])
    assert [random.random() for _ in range(4)] == expected[2]
    with pytest.raises(MepipeError, match="no valid random state"):
        restore_rng({"torch": torch.zeros(2)}, path)


def test_sigkill_in_the_middle_of_a_phase_resumes_to_identical_bytes(data, tmp_path):
    reference, killed = tmp_path / "reference", tmp_path / "killed"
    # MTMNet (two optimisers, the discriminator) runs three epochs, the others one.
    args = ["loso", *options(data, reference), "--epochs", "3"]
    assert CliRunner().invoke(main, args).exit_code == 0
    args[args.index(str(reference))] = str(killed)
    checkpoint = killed / "fold-000" / "mtmnet.ckpt"
    env = {**os.environ, "OMP_NUM_THREADS": "1", "PYTHONPATH": os.pathsep.join(sys.path)}
    process = subprocess.Popen([sys.executable, "-m", "mepipe_train.cli", *args], env=env,
                               stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)  # fmt: skip
    deadline = time.monotonic() + 300
    while not checkpoint.exists() and process.poll() is None and time.monotonic() < deadline:
        time.sleep(0.002)
    process.send_signal(signal.SIGKILL)  # as soon as the first of the three epochs is saved
    process.wait()
    assert checkpoint.exists() and not (killed / "fold-000" / "mtmnet.pt").exists()
    assert CliRunner().invoke(main, args).exit_code == 0
    for name in ("fold-000/mtmnet.pt", "fold-000/predictions.parquet", "metrics.json"):
        assert (killed / name).read_bytes() == (reference / name).read_bytes(), name
