"""The ingest flags that `add_shard_options` adds, and their conversion to ShardOptions."""

from __future__ import annotations

import click
import pytest
from click.testing import CliRunner

from mepipe.align.quality import Thresholds
from mepipe.cli.shard_options import add_shard_options, shard_options_from_cli
from mepipe.shards import ShardOptions


def _command(seen: list):
    @click.command()
    @click.option("--data")
    @add_shard_options
    def ingest(**kwargs):
        seen.append(shard_options_from_cli(kwargs))

    return ingest


def test_defaults_match_the_documented_options():
    seen: list = []
    result = CliRunner().invoke(_command(seen), ["--data", "x"])
    assert result.exit_code == 0, result.output
    options, workers = seen[0]
    assert options == ShardOptions()
    assert (options.size, options.format, options.quality, options.align) == (
        224,
        "jpg",
        95,
        "clip",
    )
    assert workers >= 1


def test_every_flag_reaches_the_options():
    seen: list = []
    args = "--size 112 --format png --align per-frame --shard-size 50 --workers 3"
    args += " --max-yaw 30 --flag-motion 0.1 --min-confidence 0.7 --detect-tries 2"
    result = CliRunner().invoke(_command(seen), args.split())
    assert result.exit_code == 0, result.output
    options, workers = seen[0]
    assert workers == 3
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
    with pytest.raises(ValueError, match="align must be one of"):
        ShardOptions(align="each")
