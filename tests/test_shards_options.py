"""The ingest flags that `dataclass_options(ShardOptions)` adds, and their conversion to
ShardOptions; values the options refuse are one OptionError."""

from __future__ import annotations

import click
import pytest
from click.testing import CliRunner

from mepipe.align.quality import Thresholds
from mepipe.cli.options import dataclass_options, options_from_cli
from mepipe.errors import OptionError
from mepipe.shards import ShardOptions


def _command(seen: list):
    @click.command()
    @click.option("--data")
    @dataclass_options(ShardOptions)
    def ingest(**kwargs):
        seen.append(options_from_cli(ShardOptions, kwargs))

    return ingest


def test_defaults_match_the_documented_options():
    seen: list = []
    result = CliRunner().invoke(_command(seen), ["--data", "x"])
    assert result.exit_code == 0, result.output
    (options,) = seen
    assert options == ShardOptions()
    assert (options.size, options.format, options.quality, options.align) == (
        224,
        "jpg",
        95,
        "clip",
    )


def test_every_flag_reaches_the_options():
    seen: list = []
    args = "--size 112 --format png --align per-frame --shard-size 50"
    args += " --max-yaw 30 --flag-motion 0.1 --min-confidence 0.7 --detect-tries 2"
    result = CliRunner().invoke(_command(seen), args.split())
    assert result.exit_code == 0, result.output
    (options,) = seen
    assert options == ShardOptions(
        size=112,
        format="png",
        align="per-frame",
        shard_size=50,
        thresholds=Thresholds(max_yaw=30, flag_motion=0.1, min_confidence=0.7, detect_tries=2),
    )


def test_help_documents_thresholds_and_bad_values_are_refused():
    result = CliRunner().invoke(_command([]), ["--help"])
    assert "--max-motion" in result.output and "interocular" in result.output
    assert CliRunner().invoke(_command([]), ["--format", "gif"]).exit_code == 2
    with pytest.raises(OptionError, match="--align must be one of"):
        ShardOptions(align="each")


@pytest.mark.parametrize(
    ("args", "message"),
    [("--size 8", "--size must be >= 16, got 8"), ("--quality 101", "--quality must be in 1..100")],
)
def test_a_refused_value_is_one_error_line_naming_the_flag(tmp_path, args, message):
    from mepipe.cli import main

    command = ["ingest", "casme2", str(tmp_path), "--out", str(tmp_path / "out"), *args.split()]
    result = CliRunner().invoke(main, command)
    assert result.exit_code == 1 and "Traceback" not in result.output
    assert result.output.startswith(f"Error: {message}"), result.output
