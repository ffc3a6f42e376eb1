"""Which clips go to which shard, and what a shard's bytes depend on.

Shards are grouped by subject (`<subject>-<chunk:06d>.tar`), so a LOSO fold reads exactly
its own subjects' shards and nothing is copied per fold. Each shard carries a fingerprint
of its inputs (the manifest rows of its clips and the options): a rerun reuses a shard
only when the fingerprint and the file's sha256 both still match.
"""

from __future__ import annotations

import hashlib
import json
import math
import re
from dataclasses import dataclass
from typing import Any

import numpy as np
import pandas as pd

from mepipe.contract.manifest import SHARD_COLUMNS, ClipStatus
from mepipe.shards.clip import ClipToAlign
from mepipe.shards.options import ShardOptions

SHARDS_DIR = "shards"
_UNSAFE = re.compile(r"[^A-Za-z0-9_-]")


def plain(value: Any) -> Any:
    """A manifest cell as plain JSON data: arrays -> lists, numpy scalars -> Python,
    NaN / NA -> None."""
    if isinstance(value, np.ndarray | list | tuple):
        return [plain(v) for v in value]
    if isinstance(value, np.generic):
        value = value.item()
    if value is None or value is pd.NA or (isinstance(value, float) and math.isnan(value)):
        return None
    return value


def row_dict(row: pd.Series) -> dict[str, Any]:
    return {column: plain(row[column]) for column in row.index if column not in SHARD_COLUMNS}


@dataclass(frozen=True)
class ShardPlan:
    name: str  # file name inside shards/
    subject: str
    keys: tuple[str, ...]  # clips planned for this shard, sorted (quality may drop some)
    inputs: str  # sha256 of the options and of the rows of these clips


def plan_shards(manifest: pd.DataFrame, options: ShardOptions) -> list[ShardPlan]:
    """Shards of the non-rejected rows: by subject, keys sorted, at most shard_size each."""
    usable = manifest[manifest["status"] != ClipStatus.REJECTED]
    plans: list[ShardPlan] = []
    names: dict[str, str] = {}
    for subject, rows in sorted(usable.groupby("subject", sort=False), key=lambda g: str(g[0])):
        stem = _UNSAFE.sub("-", str(subject))
        if names.setdefault(stem, str(subject)) != str(subject):
            raise ValueError(f"subjects {names[stem]!r} and {subject!r} give one shard name")
        rows = rows.sort_values("key")
        for chunk, start in enumerate(range(0, len(rows), options.shard_size)):
            part = rows.iloc[start : start + options.shard_size]
            inputs = {
                "options": options.to_json(),
                "rows": [row_dict(row) for _, row in part.iterrows()],
            }
            digest = hashlib.sha256(
                json.dumps(inputs, sort_keys=True, default=str).encode()
            ).hexdigest()
            plans.append(
                ShardPlan(f"{stem}-{chunk:06d}.tar", str(subject), tuple(part["key"]), digest)
            )
    return plans


def clip_to_align(row: pd.Series) -> ClipToAlign:
    """The alignment job of a clip: the frames its sample needs, from its manifest row
    (ValueError if unset)."""
    neutral = plain(row.get("neutral_frame"))
    expression = plain(row.get("expression_frames")) or []
    if neutral is None or len(expression) != 5:
        raise ValueError("no neutral frame and five expression frames selected")
    apex = plain(row.get("apex"))
    if apex not in expression:
        apex = expression[len(expression) // 2]
    numbers = tuple(int(n) for n in plain(row["frame_numbers"]) or ())
    # The offset frame of the apex-offset flow pair: the annotated one if it is on disk,
    # else the last frame on disk (docs/shards.md).
    offset = plain(row.get("offset"))
    if offset not in numbers:
        offset = numbers[-1] if numbers else None
    return ClipToAlign(
        key=str(row["key"]),
        neutral=int(neutral),
        expression=tuple(int(n) for n in expression),
        apex=int(apex),
        frame_numbers=numbers,
        frame_paths=tuple(str(p) for p in plain(row.get("frame_paths")) or ()),
        video=plain(row.get("video")) or None,
        kind=plain(row.get("kind")) or "micro",
        offset=None if offset is None else int(offset),
    )


def labels_of(row: pd.Series) -> dict[str, str | None]:
    """Every scheme's class of a clip, from its `label_<scheme>` columns."""
    return {
        column.removeprefix("label_"): plain(row[column])
        for column in row.index
        if column.startswith("label_")
    }
