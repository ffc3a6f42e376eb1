"""Issue 12 on CPU: folds in parallel (--jobs) give the serial run's results, a killed
worker's fold resumes, a failing fold is named while the others finish; device-resident
clips draw the streaming path's batches; --checkpoint-every; the fold timing file."""

import json
import os
import shutil
import signal
import subprocess
import sys
import time
from pathlib import Path

import pandas as pd
import pytest
import torch

from mepipe.errors import MepipeError, OptionError
from mepipe_train.config import TrainConfig
from mepipe_train.data import (
    PairDataset,
    TripletDataset,
    epoch_loader,
    folds_from_split,
    load_pool,
    shard_locations,
)
from mepipe_train.loso import run_loso
from mepipe_train.parallel import job_count, worker_threads
from mepipe_train.phase import checkpoint_due
from mepipe_train.resident import ResidentClips, epoch_batches
from mepipe_train.runtime import Runtime
from mepipe_train.synthetic import SyntheticSpec, build

torch.set_num_threads(1)  # the workers take the parent's count (bit-identity on CPU)

FOLDS = "0,2"  # of four: every run here also uses --folds


@pytest.fixture(scope="module")
def data(tmp_path_factory):
    root = tmp_path_factory.mktemp("data")
    return root, build(root, SyntheticSpec())


def options(data, out, **changes) -> dict:
    root, split = data
    values = dict(
        data=str(root), split=str(split), out=str(out), folds=FOLDS, epochs=2, eid_epochs=2,
        max_steps=2, batch_size=4, image_size=32, weights="none", workers=0, device="cpu",
        expr_dim=32, id_dim=32,
    )  # fmt: skip
    return {**values, **changes}


def small(data, out, **changes) -> TrainConfig:
    return TrainConfig(**options(data, out, **changes))


def cli_args(data, out, **changes) -> list[str]:
    args = ["loso"]
    for key, value in options(data, out, **changes).items():
        args += [f"--{key.replace('_', '-')}", str(value)]
    return args


@pytest.fixture(scope="module")
def reference(data, tmp_path_factory):
    """The serial run (--jobs 1, streamed batches), in this process."""
    run = tmp_path_factory.mktemp("serial")
    return run, run_loso(small(data, run))


def same_predictions(run: Path, reference: Path, folds=("fold-000", "fold-002")) -> None:
    for fold in folds:
        pd.testing.assert_frame_equal(
            pd.read_parquet(run / fold / "predictions.parquet"),
            pd.read_parquet(reference / fold / "predictions.parquet"),
        )


def test_two_jobs_give_the_serial_predictions_and_metrics(data, reference, tmp_path):
    serial, metrics = reference
    assert run_loso(small(data, tmp_path, jobs="2")) == metrics
    pd.testing.assert_frame_equal(
        pd.read_parquet(tmp_path / "predictions.parquet"),
        pd.read_parquet(serial / "predictions.parquet"),
    )
    same_predictions(tmp_path, serial)
    # --folds 0,2: only those folds ran; the parent alone wrote the run-level files
    assert sorted(p.name for p in tmp_path.glob("fold-*")) == ["fold-000", "fold-002"]
    assert (tmp_path / "macronet.pt").exists() and (tmp_path / "metrics.json").exists()
    for fold in ("fold-000", "fold-002"):
        timing = json.loads((tmp_path / fold / "timing.json").read_text())
        assert {"load", "steps", "checkpoint", "predict"} <= set(timing["seconds"])
        assert timing["seconds"]["steps"] > 0 and timing["total"] >= timing["seconds"]["steps"]
        assert not (tmp_path / fold / "fold.lock.holder").exists()  # released


def seeded_run(reference: Path, run: Path) -> None:
    """A run folder that already holds the reference's config and MacroNet (saves time)."""
    run.mkdir(parents=True, exist_ok=True)
    for name in ("config.json", "macronet.pt", "macronet-log.csv"):
        shutil.copy(reference / name, run / name)


def test_killed_worker_names_its_fold_and_the_fold_resumes(data, reference, tmp_path):
    serial, metrics = reference
    seeded_run(serial, tmp_path)
    env = {**os.environ, "OMP_NUM_THREADS": "1", "PYTHONPATH": os.pathsep.join(sys.path)}
    args = [sys.executable, "-m", "mepipe_train.cli", *cli_args(data, tmp_path, jobs="2")]
    process = subprocess.Popen(args, env=env, stdout=subprocess.PIPE, stderr=subprocess.PIPE,
                               text=True)  # fmt: skip
    checkpoint = tmp_path / "fold-002" / "micronet.ckpt"
    holder = tmp_path / "fold-002" / "fold.lock.holder"
    deadline = time.monotonic() + 300
    while not checkpoint.exists() and process.poll() is None and time.monotonic() < deadline:
        time.sleep(0.005)
    worker = json.loads(holder.read_text())["pid"]
    assert worker != process.pid
    os.kill(worker, signal.SIGKILL)  # one of the two workers, in fold 2's MicroNet
    _, stderr = process.communicate(timeout=300)
    assert process.returncode == 1
    assert "fold 2: its worker process ended (killed by signal 9)" in stderr
    assert "Traceback" not in stderr
    assert (tmp_path / "fold-000" / "predictions.parquet").exists()  # the other fold finished
    assert not (tmp_path / "fold-002" / "predictions.parquet").exists()
    assert not (tmp_path / "metrics.json").exists()
    assert run_loso(small(data, tmp_path, jobs="2")) == metrics  # resumes fold 2 only
    same_predictions(tmp_path, serial)
    log = pd.read_csv(tmp_path / "fold-002" / "micronet-log.csv")
    assert log["epoch"].tolist() == [0, 0, 1, 1]  # epoch 1 came from the checkpoint


def test_a_failing_fold_is_named_and_the_others_finish(data, reference, tmp_path):
    serial, _ = reference
    seeded_run(serial, tmp_path)
    (tmp_path / "fold-002").mkdir()
    (tmp_path / "fold-002" / "micronet.pt").write_bytes(b"not weights")
    with pytest.raises(MepipeError, match=r"1 of 2 folds failed \(fold 2: .*micronet.pt"):
        run_loso(small(data, tmp_path, jobs="2"))
    same_predictions(tmp_path, serial, folds=("fold-000",))


def test_jobs_are_refused_under_torchrun_and_auto_picks_a_count():
    config = TrainConfig(jobs="2")
    with pytest.raises(OptionError, match="torchrun"):
        job_count(config, Runtime(torch.device("cpu"), rank=0, world=2), 10)
    assert job_count(config, Runtime(torch.device("cpu")), 10) == 2
    assert job_count(config, Runtime(torch.device("cpu")), 1) == 1  # never more than folds
    # on CPU a fold already uses every core (and its results depend on the thread count)
    assert job_count(TrainConfig(jobs="auto"), Runtime(torch.device("cpu")), 10) == 1
    assert worker_threads(Runtime(torch.device("cpu")), 4) == torch.get_num_threads()
    with pytest.raises(OptionError, match="--jobs"):
        TrainConfig(jobs="two")


def test_data_on_device_gives_the_streamed_run(data, reference, tmp_path):
    serial, metrics = reference
    assert run_loso(small(data, tmp_path, data_on_device="on")) == metrics
    same_predictions(tmp_path, serial)
    assert json.loads((tmp_path / "fold-000" / "timing.json").read_text())["data_on_device"]


def test_resident_batches_are_the_streamed_batches_and_never_held_out(data):
    root, split = data
    config = small(data, "unused", max_steps=0, batch_size=3)
    table = pd.read_parquet(split)
    fold = folds_from_split(table)[0]
    shard_of = shard_locations(root, table["database"])
    pool = load_pool([i.key for i in fold.train + fold.test + fold.macro], shard_of)
    held_out = {i.key for i in fold.test}
    runtime = Runtime(torch.device("cpu"))
    runtime.resident = ResidentClips(runtime.device, config.image_size)
    runtime.resident.add(pool)
    assert held_out <= runtime.resident.where.keys()  # decoded for prediction...
    subjects = {s: n for n, s in enumerate(fold.train_subjects)}
    datasets = [
        PairDataset(pool, fold.train, subjects, config.image_size, seed=5),
        TripletDataset(pool, pool, fold.train, fold.macro, config.image_size, seed=5),
    ]
    for dataset in datasets:
        for epoch in (0, 1):
            streamed = list(epoch_loader(dataset, epoch, 5, config))
            resident = list(epoch_batches(dataset, epoch, 5, config, runtime))
            assert len(resident) == len(streamed) > 1
            for mine, theirs in zip(resident, streamed, strict=True):
                assert mine.keys() == theirs.keys()
                for name, value in theirs.items():
                    if isinstance(value, torch.Tensor):
                        assert torch.equal(mine[name], value), name
                    else:
                        assert list(mine[name]) == list(value), name
                drawn = (
                    set(mine["key"]) | set(mine.get("pos_key", [])) | set(mine.get("neg_key", []))
                )
                assert not drawn & held_out  # ...but never drawn into training
    assert any(  # the triplets did draw macro positives and micro negatives
        b["has_pos"].any() and b["has_neg"].any()
        for b in epoch_batches(datasets[1], 0, 5, config, runtime)
    )


def test_checkpoint_every(data, reference, tmp_path):
    assert [checkpoint_due(d, 5, 2) for d in range(1, 6)] == [False, True, False, True, False]
    assert [checkpoint_due(d, 3, 1) for d in range(1, 4)] == [True, True, False]
    serial, metrics = reference
    seeded_run(serial, tmp_path)

    def crash(phase: str, keys: list[str]) -> None:
        if phase == "fold 0 mtmnet":
            raise KeyboardInterrupt("simulated kill")

    with pytest.raises(KeyboardInterrupt):
        run_loso(small(data, tmp_path, checkpoint_every=2), batch_hook=crash)
    # MicroNet finished; no checkpoint was written after its first epoch (every 2 of 2)
    assert (tmp_path / "fold-000" / "micronet.pt").exists()
    assert not list((tmp_path / "fold-000").glob("*.ckpt"))
    assert run_loso(small(data, tmp_path, checkpoint_every=2)) == metrics
    same_predictions(tmp_path, serial)
