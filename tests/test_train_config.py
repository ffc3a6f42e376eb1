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


@pytest.mark.parametrize(
    "flag, value, problem",
    [
        ("--lambda-rec", "nan", "must be a finite number, got nan"),
        ("--lambda-tri", "inf", "must be a finite number, got inf"),
        ("--lambda-adv", "-0.5", "must be >= 0, got -0.5"),
        ("--mtm-lr-encoder", "-1", "must be > 0, got -1"),
        ("--eid-lr-decoder", "0", "must be > 0, got 0"),
        ("--margin", "-1", "must be >= 0, got -1"),
        ("--epochs", "0", "must be >= 1, got 0"),
        ("--batch-size", "-4", "must be >= 1, got -4"),
        ("--seed", "-1", "must be >= 0, got -1"),
        ("--seed", str(2**40), f"must be below {2**32}, got {2**40}"),
        # the options of issues 10-12
        ("--select", "foo", "must be one of fixed, inner-loso, got 'foo'"),
        ("--seeds", "a,b", "must be whole numbers 0 to 4294967295, comma-separated, got 'a'"),
        ("--lir-classifier", "x", "must be one of micro, macro, got 'x'"),
        ("--rec-loss", "x", "must be one of rms, l2, got 'x'"),
        ("--inner-k", "-1", "must be >= 0, got -1"),
        ("--model", "foo", "must be one of eidnet, ststnet, offapexnet, got foo"),
        ("--flow-lr", "nan", "must be a finite number, got nan"),
        ("--jobs", "0", "must be a number >= 1 or auto, got '0'"),
        ("--checkpoint-every", "-1", "must be >= 1, got -1"),
    ],
)
def test_non_finite_or_out_of_range_options_are_refused_before_anything_runs(
    tmp_path, flag, value, problem
):
    run = tmp_path / "run"
    result = CliRunner().invoke(main, ["loso", "--out", str(run), flag, value])
    assert result.exit_code == 1
    assert result.output.strip() == f"Error: {flag} {problem}"
    assert not run.exists()  # refused before the run folder was made


def _saved_config(tmp_path, **changes) -> str:
    path = tmp_path / "config.json"
    text = json.dumps({**TrainConfig(out=str(tmp_path)).to_dict(), **changes})
    path.write_text(text)
    return str(path)


@pytest.mark.parametrize(
    "changes, problem",
    [
        ({"lambda_rec": float("nan")}, "key lambda_rec must be a finite number, got nan"),
        ({"lambda_rec": "0.1"}, "key lambda_rec must be a number, got '0.1'"),
        ({"mtm_lr_encoder": -1}, "key mtm_lr_encoder must be > 0, got -1"),
        ({"epochs": 2.5}, "key epochs must be a whole number, got 2.5"),
        ({"epochs": True}, "key epochs must be a number, got True"),
        ({"eid": "yes"}, "key eid must be true or false, got 'yes'"),
        ({"losses": 3}, "key losses must be comma-separated names, got 3"),
        ({"macro": ["ckplus", 1]}, "key macro must be comma-separated names"),
        ({"backbone": None}, "key backbone must be text, got None"),
        ({"losses": ["tri"]}, "containing cls"),
    ],
)
def test_config_file_values_are_checked_naming_file_and_key(tmp_path, changes, problem):
    path = _saved_config(tmp_path, **changes)
    result = CliRunner().invoke(main, ["loso", "--config", path])
    assert result.exit_code == 1 and "Traceback" not in result.output
    assert result.output.strip().startswith(f"Error: {path}: ")
    assert problem in result.output
    with pytest.raises(MepipeError, match="config.json"):
        load_config(path)


@pytest.mark.parametrize(
    "content, problem",
    [
        (b"[1, 2]", "must hold a JSON object of options, not list"),
        (b'{"epochs": 2', "not valid JSON"),
        (b"\xff\xfe\x00garbage", "cannot read the configuration"),
    ],
)
def test_config_file_that_is_not_an_object_is_named(tmp_path, content, problem):
    path = tmp_path / "config.json"
    path.write_bytes(content)
    result = CliRunner().invoke(main, ["loso", "--config", str(path)])
    assert result.exit_code == 1 and "Traceback" not in result.output
    assert result.output.startswith(f"Error: {path}: ") and problem in result.output


def test_whole_numbers_are_accepted_for_float_options_in_a_config(tmp_path):
    path = _saved_config(tmp_path, lambda_rec=1, margin=0)
    assert load_config(path).lambda_rec == 1 and load_config(path).margin == 0


@pytest.mark.parametrize("flag, value", [("--size", "0"), ("--subjects", "-1"), ("--clips", "0")])
def test_synthetic_command_refuses_out_of_range_numbers(tmp_path, flag, value):
    result = CliRunner().invoke(main, ["synthetic", "--out", str(tmp_path / "d"), flag, value])
    assert result.exit_code == 2 and f"Invalid value for '{flag}'" in result.output
    assert not (tmp_path / "d").exists()
