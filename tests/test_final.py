"""`mepipe-train final`: a model folder trained on every subject, its card, its weights
read with weights_only, and the refusals of a folder from another version or protocol."""

from __future__ import annotations

import json
import shutil
from pathlib import Path

import numpy as np
import pytest
import torch

from mepipe.contract.model import MODEL_CARD, MODEL_FORMAT, WEIGHTS_FILE, read_model_card
from mepipe.errors import MepipeError
from mepipe.predict.classifier import open_model
from mepipe.protocols import load_scheme
from mepipe.shards.index import sha256_of
from mepipe_train.final import MtmnetClassifier, load_classifier


def copy_model(model: Path, tmp_path: Path) -> Path:
    copy = tmp_path / "model"
    shutil.copytree(model, copy)
    return copy


def edit_card(model: Path, **changes) -> None:
    card = json.loads((model / MODEL_CARD).read_text())
    card.update(changes)
    (model / MODEL_CARD).write_text(json.dumps(card))


def test_card_describes_the_model_and_the_data(tiny_model: Path):
    card = read_model_card(tiny_model)
    assert card.format == MODEL_FORMAT and card.classifier == "mtmnet"
    assert card.protocol == "cde" and card.classes == load_scheme("cde").classes
    assert card.image_size == 32 and card.crop_size == 32  # synthetic shards are 32 px
    assert card.alignment["align"] == "clip" and card.alignment["format"] == "jpg"
    assert "data" not in card.config and "out" not in card.config  # where it ran is not kept
    assert card.config["epochs"] == 1
    # the sha256 of every manifest and shard index trained on, as they are on disk
    data = Path(json.loads((tiny_model / "train" / "config.json").read_text())["data"])
    assert {"casme2/manifest.parquet", "ckplus/shards/index.json"} <= set(card.data)
    for name, digest in card.data.items():
        assert sha256_of(data / name) == digest, name


def test_every_phase_ran_on_all_subjects(tiny_model: Path):
    for phase in ("macronet", "micronet", "mtmnet"):
        assert (tiny_model / "train" / f"{phase}.pt").exists(), phase
    log = (tiny_model / "train" / "mtmnet-log.csv").read_text()
    assert "final mtmnet" in log
    assert not list(tiny_model.glob("train/fold-*"))  # no held-out fold


def test_weights_load_with_weights_only_and_classify(tiny_model: Path):
    state = torch.load(tiny_model / WEIGHTS_FILE, weights_only=True)
    assert any(k.startswith("encoder.") for k in state) and "classifier.weight" in state
    classifier = load_classifier(tiny_model)
    assert isinstance(classifier, MtmnetClassifier)
    frames = [np.full((32, 32, 3), v, np.uint8) for v in (90, 100, 110, 120, 130, 140)]
    probs = classifier.classify(frames[0], frames[1:])
    assert probs.shape == (3,) and abs(float(probs.sum()) - 1) < 1e-5


def test_the_plugin_is_found_through_its_entry_point(tiny_model: Path):
    """`mepipe` never imports mepipe_train: open_model finds the `mtmnet` entry point."""
    card, classifier = open_model(tiny_model, "cde")
    assert type(classifier).__module__ == "mepipe_train.final"
    assert classifier.classes == card.classes


def test_a_rerun_resumes_instead_of_training_again(tiny_model: Path, tmp_path: Path):
    from mepipe_train.config import load_config
    from mepipe_train.final import train_final

    config = load_config(tiny_model / "train")
    before = (tiny_model / "train" / "mtmnet.pt").stat().st_mtime_ns
    train_final(config.__class__(**{**config.to_dict(), "out": str(tiny_model)}))
    assert (tiny_model / "train" / "mtmnet.pt").stat().st_mtime_ns == before


@pytest.mark.parametrize(
    ("changes", "words"),
    [
        ({"format": MODEL_FORMAT + 1}, "model format"),
        ({"classes": ["a", "b", "c"]}, "not those of protocol cde"),
        ({"protocol": "nope"}, "unknown protocol"),
        ({"alignment": {"size": "big"}}, "alignment.size"),
    ],
)
def test_a_model_from_another_version_or_protocol_is_refused(
    tiny_model: Path, tmp_path: Path, changes, words
):
    model = copy_model(tiny_model, tmp_path)
    edit_card(model, **changes)
    with pytest.raises(MepipeError, match=words) as caught:
        open_model(model)
    assert MODEL_CARD in str(caught.value)


def test_a_model_for_another_protocol_than_asked_is_refused(tiny_model: Path):
    with pytest.raises(MepipeError, match="trained for protocol cde, not samm_5class"):
        open_model(tiny_model, "samm_5class")


def test_an_unfinished_model_folder_is_refused(tiny_model: Path, tmp_path: Path):
    model = copy_model(tiny_model, tmp_path)
    (model / MODEL_CARD).unlink()
    with pytest.raises(MepipeError, match="unfinished"):
        open_model(model)


def test_weights_that_are_not_plain_tensors_are_refused(tiny_model: Path, tmp_path: Path):
    model = copy_model(tiny_model, tmp_path)
    torch.save({"encoder": np.zeros(3)}, model / WEIGHTS_FILE)  # a pickle of a numpy object
    with pytest.raises(MepipeError, match="not a valid weights file"):
        open_model(model)


def test_final_command_line_resumes_a_finished_model(tiny_model: Path):
    """`mepipe-train final --config MODEL/train --out MODEL`: nothing left to train."""
    from click.testing import CliRunner

    from mepipe_train.cli import main

    result = CliRunner().invoke(
        main, ["final", "--config", str(tiny_model / "train"), "--out", str(tiny_model)]
    )
    assert result.exit_code == 0, result.output
    assert f"model -> {tiny_model}" in result.output.replace("\n", "")


def test_final_command_line_needs_its_data(tmp_path: Path):
    from cli_helpers import error_line
    from click.testing import CliRunner

    from mepipe_train.cli import main

    line = error_line(CliRunner().invoke(main, ["final", "--out", str(tmp_path / "m")]))
    assert "--data DATA is required" in line
    assert not (tmp_path / "m").exists()
    line = error_line(
        CliRunner().invoke(main, ["final", "--data", str(tmp_path), "--out", str(tmp_path / "m")])
    )
    assert "no manifest" in line and not (tmp_path / "m").exists()
