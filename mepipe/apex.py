"""Apex choice for releases without an apex annotation (SMIC).

Public SMIC code uses either the middle frame or the frame that differs most from the onset;
mepipe offers both and records which one was used (`apex_source`).
"""

from __future__ import annotations

import cv2
import numpy as np

from mepipe.images import read_frames
from mepipe.records import ApexSource, ClipRecord

APEX_METHODS = ("midpoint", "max-diff")


def midpoint_apex(
    numbers: tuple[int, ...], onset: int | None = None, offset: int | None = None
) -> int:
    """`onset + (offset - onset) // 2`, snapped to the nearest frame on disk (lower on a tie).

    Onset and offset default to the first and last frame on disk, as SMIC defines them.
    """
    onset = numbers[0] if onset is None else onset
    offset = numbers[-1] if offset is None else offset
    middle = onset + (offset - onset) // 2
    return min((n for n in numbers if onset <= n <= offset), key=lambda n: (abs(n - middle), n))


def max_diff_apex(record: ClipRecord) -> int:
    """The frame whose grey levels differ most (mean absolute difference) from the onset.

    Frames are compared at a quarter of their size after a light blur, so sensor noise does
    not outweigh the small facial motion of a micro-expression.
    """
    source = record.source
    numbers = [n for n in source.numbers if record.onset <= n <= record.offset]
    frames = read_frames(numbers, source.numbers, source.paths, source.video)

    def prepare(frame: np.ndarray) -> np.ndarray:
        grey = cv2.cvtColor(frame, cv2.COLOR_RGB2GRAY)
        small = cv2.resize(grey, None, fx=0.25, fy=0.25, interpolation=cv2.INTER_AREA)
        return cv2.GaussianBlur(small, (3, 3), 0).astype(np.float32)

    onset = prepare(frames[0])
    scores = [float(np.abs(prepare(f) - onset).mean()) for f in frames]
    return numbers[int(np.argmax(scores))]


def apply_apex_method(record: ClipRecord, method: str) -> None:
    """Set the apex of an unannotated clip by `method` (records with an annotated apex are left)."""
    if record.reject_reason or record.apex_source not in (ApexSource.MIDPOINT, ApexSource.MAX_DIFF):
        return
    if method == "max-diff":
        record.apex, record.apex_source = max_diff_apex(record), ApexSource.MAX_DIFF
    else:
        record.apex = midpoint_apex(record.source.numbers, record.onset, record.offset)
        record.apex_source = ApexSource.MIDPOINT
