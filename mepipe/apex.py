"""The apex frame: chosen where a release has none, estimated where its annotation has holes.

SMIC, and MMI videos without an apex marker, have no apex annotation: public code uses either
the middle frame or the frame that differs most from the onset; mepipe offers both for every
such release (`--apex-method`) and records per clip which one was used (`apex_source`).

CASME II, SAMM and MMI annotate an apex, but their sheets have holes: copies of the CASME II
sheet leave the apex empty for about 21 clips, write `/` or -1, put it on the onset frame or
outside onset..offset, and mistype an offset (DATASETS.md). Rejecting those clips would lose
clips of the official composite list, so `check_annotation` says what is wrong, the apex is
estimated from the frames by the same max-diff method SMIC uses, and the clip is flagged with
the reason (`apex_source` = `estimated:max-diff`). Which clips a protocol leaves out is the
scheme's business (its named exclusions), never a side effect of a hole in a sheet.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

import cv2
import numpy as np

from mepipe.errors import MepipeError
from mepipe.images import iter_frames
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
    not outweigh the small facial motion of a micro-expression. They are decoded one at a
    time, so a long clip of large frames costs one frame of memory.
    """
    source = record.source
    numbers = [n for n in source.numbers if record.onset <= n <= record.offset]

    def prepare(frame: np.ndarray) -> np.ndarray:
        grey = cv2.cvtColor(frame, cv2.COLOR_RGB2GRAY)
        small = cv2.resize(grey, None, fx=0.25, fy=0.25, interpolation=cv2.INTER_AREA)
        return cv2.GaussianBlur(small, (3, 3), 0).astype(np.float32)

    frames = iter_frames(numbers, source.numbers, source.paths, source.video)
    onset = prepare(next(frames))
    scores = [0.0] + [float(np.abs(prepare(f) - onset).mean()) for f in frames]
    return numbers[int(np.argmax(scores))]


def check_apex_method(method: str) -> None:
    """A MepipeError naming the known methods unless `method` is one of APEX_METHODS."""
    if method not in APEX_METHODS:
        known = ", ".join(APEX_METHODS)
        raise MepipeError(f"unknown apex method '{method}' (known: {known})")


def needs_method(record: ClipRecord) -> bool:
    """Whether the release annotates no apex for this usable clip, so that the apex method
    chooses it (the adapter marks such clips ApexSource.MIDPOINT)."""
    unannotated = record.apex_source in (ApexSource.MIDPOINT, ApexSource.MAX_DIFF)
    return record.reject_reason is None and unannotated


def apply_apex_method(record: ClipRecord, method: str) -> None:
    """Set the apex of an unannotated clip by `method` (records with an annotated apex are left)."""
    check_apex_method(method)
    if not needs_method(record):
        return
    if method == "max-diff":
        record.apex, record.apex_source = max_diff_apex(record), ApexSource.MAX_DIFF
    else:
        record.apex = midpoint_apex(record.source.numbers, record.onset, record.offset)
        record.apex_source = ApexSource.MIDPOINT


@dataclass(frozen=True)
class AnnotationCheck:
    """What `check_annotation` makes of an annotated onset/apex/offset."""

    apex: int | None  # the annotated apex, or None where it must be estimated from the frames
    offset: int  # the annotated offset, or the last frame on disk where it cannot be right
    notes: tuple[str, ...]  # what was wrong, in words for the clip's flag; () if nothing


def check_annotation(
    onset: int,
    apex: int | None,
    offset: int,
    numbers: Sequence[int],
    no_apex: str | None = "no apex annotated",
) -> AnnotationCheck:
    """Check an annotated apex and offset against each other and the frames on disk.

    `numbers` are the clip's frames on disk, sorted, the onset among them (a clip whose
    onset frame is missing is rejected before this). `no_apex` says why `apex` is None;
    None where a missing apex is no problem (MMI without an apex marker takes the midpoint).

    - The offset is clamped to the last frame on disk when it lies past it, before the
      onset, or before an apex that is a frame on disk: a clip folder holds the frames
      onset..offset, so the frames say where the clip ends better than a mistyped cell.
    - The apex must then be a frame after the onset and at most the offset; an apex that
      is missing, equal to the onset (no motion to see) or outside onset..offset is dropped
      (None), to be estimated from the frames by `estimate_apex`.
    """
    last = numbers[-1]
    notes = []
    if offset > last:
        wrong = "past the frames on disk"
    elif offset < onset:
        wrong = f"before the onset frame {onset}"
    elif apex is not None and offset < apex and apex in numbers:
        wrong = f"before the apex frame {apex}"
    else:
        wrong = ""
    if wrong:
        notes.append(
            f"offset frame {offset} is {wrong}: clamped to the last frame on disk ({last})"
        )
        offset = last
    if apex is None:
        if no_apex:
            notes.append(no_apex)
    elif apex == onset:
        notes.append(f"apex frame {apex} is the onset frame")
        apex = None
    elif not onset < apex <= offset:
        notes.append(f"apex frame {apex} is outside onset..offset ({onset}..{offset})")
        apex = None
    return AnnotationCheck(apex, offset, tuple(notes))


def needs_estimate(record: ClipRecord) -> bool:
    """Whether the record waits for `estimate_apex` (its annotated apex was unusable)."""
    return (
        record.reject_reason is None
        and record.apex is None
        and record.apex_source == ApexSource.ESTIMATED
    )


def estimate_apex(record: ClipRecord) -> None:
    """Fill the apex that `check_annotation` dropped with the max-diff frame, and say so in
    the clip's flag; a frame that cannot be decoded rejects the clip instead."""
    if not needs_estimate(record):
        return
    try:
        record.apex = max_diff_apex(record)
    except MepipeError as exc:
        record.reject_reason = f"cannot estimate the apex: {exc}"
        return
    estimated = f"apex estimated from the frames: frame {record.apex} (max-diff)"
    record.flag = f"{record.flag}; {estimated}" if record.flag else estimated
