"""Whether a clip's face is good enough to align, and what to say when it is not.

Every check is a threshold with a documented default (also the CLI's defaults). A clip that
fails a `max_*`/`min_*` threshold is rejected; one that passes a `flag_*` threshold is kept
but flagged, and the reason goes to the manifest and the ingest report.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field, fields, replace

import numpy as np

from mepipe.align.landmarks import STILL_GROUPS, Box, Detection, Face
from mepipe.contract.manifest import ClipStatus

REJECTED, FLAGGED, OK = ClipStatus.REJECTED, ClipStatus.FLAGGED, ClipStatus.OK


@dataclass(frozen=True)
class Thresholds:
    """Quality thresholds. `help` metadata becomes the CLI help of `mepipe ingest`."""

    min_confidence: float = field(
        default=0.5,
        metadata={"help": "reject a clip whose face detector score is below this (0-1)"},
    )
    max_faces: int = field(
        default=1,
        metadata={
            "help": "reject a clip with more faces than this on its detection frame (the main "
            "face and each other face that passes --other-face-*; see docs/alignment.md)"
        },
    )
    other_face_confidence: float = field(
        default=0.5,
        metadata={"help": "count another face only if the full-range detector scores it this high"},
    )
    other_face_size: float = field(
        default=0.2,
        metadata={
            "help": "count another face only if it is at least this fraction of the main "
            "face's width"
        },
    )
    other_face_confirm: float = field(
        default=0.4,
        metadata={
            "help": "count another face only if the short-range detector, shown a close-up of "
            "it, scores it this high"
        },
    )
    other_face_overlap: float = field(
        default=0.5,
        metadata={
            "help": "count another face only if at most this fraction of its box lies on the "
            "main face"
        },
    )
    flag_yaw: float = field(
        default=10.0, metadata={"help": "flag a clip whose head is turned more (degrees)"}
    )
    max_yaw: float = field(
        default=20.0, metadata={"help": "reject a clip whose head is turned more (degrees)"}
    )
    flag_motion: float = field(
        default=0.05,
        metadata={
            "help": "flag a micro clip whose face moved more between the neutral and the apex "
            "frame (fraction of the interocular distance; see docs/alignment.md)"
        },
    )
    max_motion: float = field(
        default=0.15,
        metadata={"help": "reject a micro clip whose face moved more (as --flag-motion)"},
    )
    flag_motion_macro: float = field(
        default=0.2,
        metadata={"help": "--flag-motion for macro clips, whose expressions move landmarks more"},
    )
    max_motion_macro: float = field(default=0.4, metadata={"help": "--max-motion for macro clips"})
    detect_tries: int = field(
        default=5,
        metadata={"help": "frames tried for the face, from the neutral frame on, before rejecting"},
    )

    @classmethod
    def names(cls) -> list[str]:
        return [f.name for f in fields(cls)]


@dataclass(frozen=True)
class Verdict:
    """The quality outcome of one clip: `ok`, `flagged` or `rejected`, and why."""

    status: str = OK
    reasons: tuple[str, ...] = ()

    def add(self, status: str, reason: str) -> Verdict:
        worst = ClipStatus.worst(self.status, status)
        return Verdict(worst, (*self.reasons, reason))


def usable(detection: Detection, thresholds: Thresholds) -> bool:
    """Whether a frame can serve for detection: a face, scored at least min_confidence."""
    return detection.face is not None and detection.score >= thresholds.min_confidence


def why_unusable(detection: Detection, frame: int, thresholds: Thresholds) -> str:
    if detection.face is None:
        return f"no face found on frame {frame}"
    return (
        f"face detector confidence {detection.score:.2f} below {thresholds.min_confidence:.2f} "
        f"on frame {frame}"
    )


def candidates(detection: Detection, thresholds: Thresholds) -> list[Box]:
    """The full-range detections that may be other people: confident, comparable in size
    to the main face (FaceMesh's largest), and not lying on it.

    Each gate stops one known confounder: low confidence a face-like print on clothing,
    size a face on a badge or a picture on the wall far behind, overlap the detector's own
    box of the main face.
    """
    face = detection.face
    if face is None:
        return []
    main = face.box()
    return [
        box
        for box in detection.found
        if box.score >= thresholds.other_face_confidence
        and box.width >= thresholds.other_face_size * main.width
        and box.intersection(main) <= thresholds.other_face_overlap * box.area()
    ]


def confirm_candidates(
    detection: Detection, thresholds: Thresholds, confirm: Callable[[Box], float]
) -> Detection:
    """`detection` with each candidate's box carrying `confirm(box)` (a second detector's
    score on a close-up), asked only for the candidates: usually none."""
    chosen = candidates(detection, thresholds)
    found = tuple(
        replace(box, confirmation=confirm(box)) if box in chosen else box for box in detection.found
    )
    return replace(detection, found=found)


def other_faces(detection: Detection, thresholds: Thresholds) -> list[Box]:
    """The other people on the frame: candidates that the close-up confirmed (a hand or a
    pattern that fooled the full-range detector is not confirmed)."""
    return [
        box
        for box in candidates(detection, thresholds)
        if box.confirmation >= thresholds.other_face_confirm
    ]


def several_faces(detection: Detection, frame: int, thresholds: Thresholds) -> str | None:
    """The reason to reject a frame with more faces than `max_faces`, or None."""
    others = other_faces(detection, thresholds)
    if 1 + len(others) <= thresholds.max_faces:
        return None
    width = detection.face.box().width if detection.face else 1.0
    each = "; ".join(
        f"{box.width / width:.2f} of its width, scores {box.score:.2f}/{box.confirmation:.2f}"
        for box in others
    )
    return f"{1 + len(others)} faces on frame {frame} (besides the main face: {each})"


def head_motion(neutral: Face, apex: Face) -> float:
    """How far the face as a whole moved from the neutral to the apex frame.

    For each group of still points (temples, forehead, nose bridge, chin, jaw sides), the
    median displacement; the result is the smallest of them, as a fraction of the
    interocular distance. A head or camera move shifts every group; an expression leaves
    at least one group nearly still. The apex points come from `track_still_points`
    (optical flow from the neutral frame), which follows each point's own pixels: on the
    demo face a strong macro surprise reads about 0.01, a whole-frame shift its size.
    """
    moved = apex.points[:, :2] - neutral.points[:, :2]
    shifts = [np.linalg.norm(np.median(moved[list(g)], axis=0)) for g in STILL_GROUPS.values()]
    return float(min(shifts) / neutral.interocular())


def assess(
    neutral: Detection,
    neutral_frame: int,
    apex: Detection,
    apex_frame: int,
    thresholds: Thresholds,
    kind: str = "micro",
) -> Verdict:
    """Quality of a clip whose neutral detection is usable (see `usable`); for the count
    of faces, `neutral.found` must hold the full-range detections, confirmed
    (`confirm_candidates`).

    `kind` (micro or macro) chooses the motion thresholds: a macro-expression moves
    landmarks far more than a micro-expression, a head move must not be confused with it.
    """
    verdict = Verdict()
    face = neutral.face
    assert face is not None
    crowded = several_faces(neutral, neutral_frame, thresholds)
    if crowded:
        verdict = verdict.add(REJECTED, crowded)
    yaw = abs(face.yaw())
    if yaw > thresholds.max_yaw:
        verdict = verdict.add(
            REJECTED, f"head turned {yaw:.0f} degrees (max {thresholds.max_yaw:g})"
        )
    elif yaw > thresholds.flag_yaw:
        verdict = verdict.add(
            FLAGGED, f"head turned {yaw:.0f} degrees (flag above {thresholds.flag_yaw:g})"
        )
    if apex.face is None:
        return verdict.add(REJECTED, f"no face found on apex frame {apex_frame}")
    motion = head_motion(face, apex.face)
    flag, limit = thresholds.flag_motion, thresholds.max_motion
    if kind == "macro":
        flag, limit = thresholds.flag_motion_macro, thresholds.max_motion_macro
    moved = f"face moved {motion:.2f} interocular from the neutral to apex frame {apex_frame}"
    if motion > limit:
        verdict = verdict.add(REJECTED, f"{moved} (max {limit:g}): the clip moved, not the face")
    elif motion > flag:
        verdict = verdict.add(FLAGGED, f"{moved} (flag above {flag:g})")
    return verdict
