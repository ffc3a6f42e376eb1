"""Options of alignment and shard writing (the flags that set them: mepipe.cli.shard_options)."""

from __future__ import annotations

from dataclasses import asdict, dataclass, field
from typing import Any

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
