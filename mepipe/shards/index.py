"""`shards/index.json`: every shard with its samples, sha256, inputs and per-clip facts.

Read by `mepipe verify` and by resume. It is rewritten (atomically) after each shard, so
after a `kill -9` it lists exactly the shards that were complete. Per-clip facts
(quality verdict, landmarks, transform) of every planned clip, rejected ones included,
live here so that a resumed run rebuilds the same manifest without re-aligning.
"""

from __future__ import annotations

import hashlib
import json
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

from mepipe.atomic import write_bytes
from mepipe.errors import MepipeError

INDEX_NAME = "index.json"
INDEX_FORMAT = 1


@dataclass
class ClipFacts:
    """What alignment found for one clip (everything the manifest gains)."""

    status: str  # quality outcome: ok, flagged, rejected
    reasons: list[str]
    landmarks: list[float] | None = None
    transform: list[float] | None = None
    detect_frame: int | None = None
    frame_transforms: list[list[float]] | None = None


@dataclass
class ShardEntry:
    name: str
    subject: str
    keys: list[str]  # samples in the tar, in tar order
    sha256: str
    bytes: int
    inputs: str  # fingerprint of options and manifest rows (mepipe.shards.plan)
    clips: dict[str, ClipFacts] = field(default_factory=dict)  # every planned clip

    @classmethod
    def from_json(cls, data: dict[str, Any]) -> ShardEntry:
        clips = {key: ClipFacts(**facts) for key, facts in data["clips"].items()}
        return cls(**{**data, "clips": clips})


@dataclass
class ShardIndex:
    database: str
    options: dict[str, Any]
    shards: list[ShardEntry]
    format: int = INDEX_FORMAT

    def by_name(self) -> dict[str, ShardEntry]:
        return {entry.name: entry for entry in self.shards}


def sha256_of(path: Path) -> str:
    with path.open("rb") as handle:
        return hashlib.file_digest(handle, "sha256").hexdigest()


def read_index(shards_dir: Path) -> ShardIndex:
    """The index of `shards_dir`; MepipeError naming the file if it is missing or bad."""
    path = shards_dir / INDEX_NAME
    try:
        data = json.loads(path.read_text())
        if data.get("format") != INDEX_FORMAT:
            raise ValueError(f"format {data.get('format')!r}, expected {INDEX_FORMAT}")
        shards = [ShardEntry.from_json(entry) for entry in data["shards"]]
        return ShardIndex(data["database"], data["options"], shards)
    except FileNotFoundError:
        raise MepipeError("shard index is missing", path) from None
    except (ValueError, KeyError, TypeError) as exc:
        raise MepipeError(f"shard index is not valid: {exc}", path) from None


def write_index(shards_dir: Path, index: ShardIndex) -> None:
    """Write the index atomically, shards sorted by name (same content, same bytes)."""
    data = asdict(index)
    data["shards"] = sorted(data["shards"], key=lambda entry: entry["name"])
    # Compact (one line): it is rewritten after every shard. `python -m json.tool` reads it.
    text = json.dumps(data, sort_keys=True) + "\n"
    write_bytes(shards_dir / INDEX_NAME, text.encode())
