"""Options of alignment and shard writing, and the `mepipe ingest` flags that set them."""

from __future__ import annotations

import dataclasses
import os
from collections.abc import Callable
from dataclasses import asdict, dataclass, field
from typing import Any, TypeVar

import click

from mepipe.align.quality import Thresholds

FORMATS = ("jpg", "png")
ALIGN_MODES = ("clip", "per-frame")


@dataclass(frozen=True)
class ShardOptions:
    """Everything that decides the bytes of the shards (workers do not: output is the same).

    size: side of the aligned square crops, pixels.
    format: image member format, `jpg` or `png`.
    quality: JPEG quality (ignored for png).
    align: `clip` fits one transform on the neutral frame and applies it to every frame;
        `per-frame` fits one per frame (for comparison only: it adds jitter).
    shard_size: at most this many samples per shard; a subject with more is cut in chunks.
    thresholds: the quality checks (mepipe.align.quality.Thresholds).
    """

    size: int = 224
    format: str = "jpg"
    quality: int = 95
    align: str = "clip"
    shard_size: int = 1000
    thresholds: Thresholds = field(default_factory=Thresholds)

    def __post_init__(self) -> None:
        if self.format not in FORMATS:
            raise ValueError(f"format must be one of {FORMATS}, not {self.format!r}")
        if self.align not in ALIGN_MODES:
            raise ValueError(f"align must be one of {ALIGN_MODES}, not {self.align!r}")
        if self.size < 16 or self.shard_size < 1 or not 1 <= self.quality <= 100:
            raise ValueError("size must be >= 16, shard_size >= 1 and quality in 1..100")

    def to_json(self) -> dict[str, Any]:
        """Plain dict, as stored in shards/index.json to tell whether a shard can be reused."""
        return asdict(self)


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
