"""Diverged training never gives normal-looking metrics (issue 8, item 2): a non-finite loss
stops the run naming the phase (fold), epoch, step and loss term, before that epoch is
saved; non-finite class probabilities are refused instead of becoming class 0."""

from __future__ import annotations

import pytest
import torch
from cli_helpers import error_line
from click.testing import CliRunner

from mepipe.contract.split_table import read_split
from mepipe.errors import MepipeError
from mepipe_train import losses
from mepipe_train.cli import main
from mepipe_train.config import TrainConfig
from mepipe_train.data import folds_from_split, load_pool, shard_locations
from mepipe_train.eidnet import new_eidnet
from mepipe_train.models import MicroClassifier
from mepipe_train.mtmnet import predict
from mepipe_train.runtime import Runtime
from mepipe_train.synthetic import SyntheticSpec
from mepipe_train.synthetic import build as build_data

torch.set_num_threads(1)


@pytest.fixture(scope="module")
def data(tmp_path_factory):
    root = tmp_path_factory.mktemp("data")
    split = build_data(root, SyntheticSpec(micro={"casme2": 2}, macro={"ckplus": 1}))
    return root, split


def loso(data, run, *extra: str):
    root, split = data
    args = [
        "loso", "--data", str(root), "--split", str(split), "--out", str(run), "--folds", "0",
        "--epochs", "1", "--eid-epochs", "1", "--max-steps", "2", "--batch-size", "2",
        "--image-size", "32", "--weights", "none", "--workers", "0", "--device", "cpu",
        "--expr-dim", "16", "--id-dim", "16", *extra,
    ]  # fmt: skip
    return CliRunner().invoke(main, args)


def poisoned(loss_fn, at_call: int, value: float):
    """`loss_fn` whose `at_call`-th call (1-based) returns `value` (a diverged loss)."""
    calls = {"n": 0}

    def wrapper(*args, **kwargs):
        calls["n"] += 1
        result = loss_fn(*args, **kwargs)
        return result + value if calls["n"] == at_call else result

    return wrapper


def test_non_finite_eidnet_loss_stops_naming_phase_epoch_step_and_term(data, tmp_path, monkeypatch):
    poison = poisoned(losses.reconstruction_loss, at_call=2, value=float("nan"))
    monkeypatch.setattr(losses, "reconstruction_loss", poison)
    line = error_line(loso(data, tmp_path))
    assert line.startswith(
        "Error: macronet, epoch 1, step 2: loss L_EID=nan, L_rec=nan is not finite"
    )
    assert not (tmp_path / "macronet.ckpt").exists() and not (tmp_path / "macronet.pt").exists()
    assert not (tmp_path / "metrics.json").exists()


def test_non_finite_mtmnet_loss_names_the_fold(data, tmp_path, monkeypatch):
    poison = poisoned(losses.lir_loss, at_call=1, value=float("inf"))
    monkeypatch.setattr(losses, "lir_loss", poison)
    line = error_line(loso(data, tmp_path))
    assert line.startswith(
        "Error: fold 0 mtmnet, epoch 1, step 1: loss L_MTM=inf, L_LIR=inf is not finite"
    )
    assert (tmp_path / "fold-000" / "micronet.pt").exists()  # earlier phases stay good
    assert not (tmp_path / "fold-000" / "predictions.parquet").exists()


def test_non_finite_probabilities_are_refused_not_read_as_class_zero(data):
    root, split = data
    table = read_split(split)
    fold = folds_from_split(table)[0]
    pool = load_pool([i.key for i in fold.test], shard_locations(root, table["database"]))
    config = TrainConfig(image_size=32, weights="none", expr_dim=16, id_dim=16, workers=0)
    micro = MicroClassifier(new_eidnet(config, 3, 1))
    with torch.no_grad():
        micro.classifier.weight.fill_(float("nan"))
    with pytest.raises(MepipeError, match="fold 0: the trained network gives non-finite"):
        predict(micro, Runtime(torch.device("cpu")), fold.test, pool, config, 0, ("a", "b", "c"))
