"""The configuration: METHOD.md defaults, --config round trip, option checks, --help lines."""

import dataclasses
import json

import pytest
from click.testing import CliRunner

from mepipe.errors import MepipeError
from mepipe_train.cli import main, make_config
from mepipe_train.config import TrainConfig, load_config


def test_defaults_are_the_papers():
    c = TrainConfig()
    assert (c.lambda_rec, c.lambda_sim, c.lambda_id) == (0.1, 0.1, 0.1)
    assert (c.lambda_tri, c.lambda_adv, c.lambda_lir) == (1e-3, 1e-3, 1e-3)
    assert (c.eid_lr_encoder, c.eid_lr_classifier, c.eid_lr_decoder) == (1e-4, 1e-4, 1e-5)
    assert (c.mtm_lr_encoder, c.mtm_lr_discriminator, c.mtm_lr_classifier) == (1e-5, 1e-5, 1e-5)
    assert c.epochs == 20 and c.image_size == 224 and c.backbone == "resnet18"
    assert c.losses == ("cls", "tri", "adv", "lir") and c.eid
    assert (c.margin, c.expr_dim, c.id_dim) == (1.0, 256, 256)


def test_config_file_round_trip_and_command_line_override(tmp_path):
    c = TrainConfig(out=str(tmp_path), losses="cls,tri", eid=False, seed=7, macro="ckplus,mmi")
    c.save(tmp_path)
    back = load_config(tmp_path)
    assert back == c and back.losses == ("cls", "tri") and back.macro == ("ckplus", "mmi")
    merged = make_config(str(tmp_path / "config.json"), {"seed": 9, "epochs": None})
    assert merged.seed == 9 and merged.losses == ("cls", "tri") and merged.epochs == 20
    (tmp_path / "config.json").write_text(json.dumps({"sed": 1}))
    with pytest.raises(MepipeError, match="unknown option"):
        load_config(tmp_path)


@pytest.mark.parametrize(
    "losses", ["cls", "cls,tri", "cls,adv", "cls,tri,adv", "cls,lir", "cls,tri,adv,lir"]
)
def test_every_ablation_row_of_tables_2_and_3_is_expressible(losses):
    for eid in (True, False):
        c = TrainConfig(losses=losses, eid=eid)
        assert set(c.losses) == set(losses.split(","))
        assert c.needs_macronet == (losses != "cls")


@pytest.mark.parametrize(
    "bad, message",
    [
        ({"losses": "tri,adv"}, "containing cls"),
        ({"losses": "cls,foo"}, "subset"),
        ({"image_size": 100}, "multiple of 32"),
        ({"backbone": "vgg"}, "backbone"),
        ({"device": "tpu"}, "device"),
    ],
)
def test_bad_options_are_refused_by_name(bad, message):
    with pytest.raises(MepipeError, match=message):
        TrainConfig(**bad)


def test_folds_option():
    c = TrainConfig(folds="1,5-7")
    assert c.fold_numbers(list(range(10))) == [1, 5, 6, 7]
    assert TrainConfig().fold_numbers([0, 1]) == [0, 1]
    with pytest.raises(MepipeError, match="split has 3"):
        c.fold_numbers([0, 1, 2])
    with pytest.raises(MepipeError, match="cannot read"):
        TrainConfig(folds="a-b").fold_numbers([0])


def test_every_option_has_a_help_line():
    runner = CliRunner()
    for command in ("loso", "eidnet", "mtmnet"):
        result = runner.invoke(main, [command, "--help"])
        assert result.exit_code == 0
        for field in dataclasses.fields(TrainConfig):
            flag = "--" + field.name.replace("_", "-")
            assert flag in result.output, (command, flag)
        assert "--config" in result.output
    assert "--no-eid" in runner.invoke(main, ["loso", "--help"]).output
    assert runner.invoke(main, ["evaluate", "--help"]).exit_code == 0


def test_bad_option_is_a_plain_error_not_a_traceback(tmp_path):
    result = CliRunner().invoke(main, ["loso", "--losses", "tri", "--out", str(tmp_path)])
    assert result.exit_code == 1
    assert "Error:" in result.output and "containing cls" in result.output
