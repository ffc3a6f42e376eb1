"""Options of alignment and shard writing; each field is also a `mepipe ingest` flag
(mepipe.cli.options)."""

from __future__ import annotations

from dataclasses import asdict, dataclass, field
from typing import Any

from mepipe.align.quality import Thresholds
from mepipe.errors import OptionError
from mepipe.flow import FlowOptions

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
    optical_flow: optical flow between aligned crops (mepipe.flow.FlowOptions; off by
        default: TV-L1 costs about a second per clip at 224, docs/performance.md).
    """

    size: int = field(default=224, metadata={"help": "crop side, pixels"})
    format: str = field(
        default="jpg", metadata={"help": "image format of the shard members", "choices": FORMATS}
    )
    quality: int = field(default=95, metadata={"help": "JPEG quality (1-100)"})
    align: str = field(
        default="clip",
        metadata={
            "help": "one transform per clip (fitted on the neutral frame), or per frame",
            "choices": ALIGN_MODES,
        },
    )
    shard_size: int = field(default=1000, metadata={"help": "at most this many samples per shard"})
    thresholds: Thresholds = field(default_factory=Thresholds)
    optical_flow: FlowOptions = field(default_factory=FlowOptions)

    def __post_init__(self) -> None:
        if self.format not in FORMATS:
            raise OptionError(f"--format must be one of {FORMATS}, not {self.format!r}")
        if self.align not in ALIGN_MODES:
            raise OptionError(f"--align must be one of {ALIGN_MODES}, not {self.align!r}")
        for name, low, high in (("size", 16, None), ("shard_size", 1, None), ("quality", 1, 100)):
            value = getattr(self, name)
            if value < low or (high is not None and value > high):
                bound = f">= {low}" if high is None else f"in {low}..{high}"
                raise OptionError(f"--{name.replace('_', '-')} must be {bound}, got {value}")

    def to_json(self) -> dict[str, Any]:
        """Plain dict, as stored in shards/index.json to tell whether a shard can be reused.

        `optical_flow` is left out when flow is off: its parameters then decide no byte, and
        shards written before flow existed stay reusable."""
        data = asdict(self)
        if not self.optical_flow.on:
            del data["optical_flow"]
        return data

    @classmethod
    def from_json(cls, data: dict[str, Any]) -> ShardOptions:
        """The options `to_json` stored (TypeError or OptionError if they are not valid)."""
        values = dict(data)
        values["thresholds"] = Thresholds(**values.get("thresholds", {}))
        values["optical_flow"] = FlowOptions(**values.get("optical_flow", {}))
        return cls(**values)
