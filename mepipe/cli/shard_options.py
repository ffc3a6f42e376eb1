"""The `mepipe ingest` flags that set `mepipe.shards.options.ShardOptions`."""

from __future__ import annotations

import dataclasses
import os
from collections.abc import Callable
from typing import Any, TypeVar

import click

from mepipe.align.quality import Thresholds
from mepipe.shards.options import ALIGN_MODES, FORMATS, ShardOptions

_Command = TypeVar("_Command", bound=Callable[..., Any])


def add_shard_options(command: _Command) -> _Command:
    """Click decorator: add the alignment, shard and quality flags to a command."""
    defaults = ShardOptions()
    flags = [
        click.option(
            "--size", type=int, default=defaults.size, show_default=True, help="crop side, pixels"
        ),
        click.option(
            "--format",
            "image_format",
            type=click.Choice(FORMATS),
            default=defaults.format,
            show_default=True,
            help="image format of the shard members",
        ),
        click.option(
            "--quality",
            "jpeg_quality",
            type=click.IntRange(1, 100),
            default=defaults.quality,
            show_default=True,
            help="JPEG quality",
        ),
        click.option(
            "--align",
            type=click.Choice(ALIGN_MODES),
            default=defaults.align,
            show_default=True,
            help="one transform per clip (fitted on the neutral frame), or per frame",
        ),
        click.option(
            "--shard-size",
            type=click.IntRange(min=1),
            default=defaults.shard_size,
            show_default=True,
            help="at most this many samples per shard",
        ),
        click.option(
            "--workers",
            type=click.IntRange(min=1),
            default=None,
            help="worker processes [default: all cores]",
        ),
    ]
    for f in dataclasses.fields(Thresholds):
        default = getattr(defaults.thresholds, f.name)
        flags.append(
            click.option(
                "--" + f.name.replace("_", "-"),
                type=type(default),
                default=default,
                show_default=True,
                help=f.metadata["help"],
            )
        )
    for flag in reversed(flags):
        command = flag(command)
    return command


def shard_options_from_cli(kwargs: dict[str, Any]) -> tuple[ShardOptions, int]:
    """(options, workers) from the keyword arguments of a command decorated with
    `add_shard_options` (other keys are ignored; nothing is removed). Workers default to
    all cores. Raises click.BadParameter on a value ShardOptions refuses."""
    thresholds = Thresholds(**{name: kwargs[name] for name in Thresholds.names()})
    try:
        options = ShardOptions(
            size=kwargs["size"],
            format=kwargs["image_format"],
            quality=kwargs["jpeg_quality"],
            align=kwargs["align"],
            shard_size=kwargs["shard_size"],
            thresholds=thresholds,
        )
    except ValueError as exc:
        raise click.BadParameter(str(exc)) from None
    return options, kwargs["workers"] or os.cpu_count() or 1
