"""Whether a clip's face is good enough to align, and what to say when it is not.

Every check is a threshold with a documented default (also the CLI's defaults). A clip that
fails a `max_*`/`min_*` threshold is rejected; one that passes a `flag_*` threshold is kept
but flagged, and the reason goes to the manifest and the ingest report.
"""

from __future__ import annotations

from dataclasses import dataclass, field, fields

import numpy as np

from mepipe.align.landmarks import Detection, Face

REJECTED = "rejected"
FLAGGED = "flagged"
OK = "ok"


@dataclass(frozen=True)
class Thresholds:
    """Quality thresholds. `help` metadata becomes the CLI help of `mepipe ingest`."""

    min_confidence: float = field(
        default=0.5,
        metadata={"help": "reject a clip whose face detector score is below this (0-1)"},
    )
    max_faces: int = field(
        default=1, metadata={"help": "reject a clip with more faces than this on its frame"}
    )
    flag_yaw: float = field(
        default=10.0, metadata={"help": "flag a clip whose head is turned more (degrees)"}
    )
    max_yaw: float = field(
        default=20.0, metadata={"help": "reject a clip whose head is turned more (degrees)"}
    )
    flag_motion: float = field(
        default=0.08,
        metadata={
            "help": "flag a clip whose apex landmarks moved more from the neutral frame's "
            "(median displacement, fraction of the interocular distance)"
        },
    )
    max_motion: float = field(
        default=0.25,
        metadata={"help": "reject a clip whose apex landmarks moved more (as --flag-motion)"},
    )
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
        rank = {OK: 0, FLAGGED: 1, REJECTED: 2}
        worst = status if rank[status] > rank[self.status] else self.status
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


def head_motion(neutral: Face, apex: Face) -> float:
    """How far the apex frame's landmarks moved from the neutral frame's.

    The median displacement of the 468 mesh points, as a fraction of the interocular
    distance. The median tracks a head or camera move, which shifts every point, and
    largely ignores an expression, which moves some points (though FaceMesh spreads a big
    macro-expression over the mesh: at a 0.3-interocular smile it reads up to ~0.2).
    """
    moved = apex.points[:468, :2] - neutral.points[:468, :2]
    return float(np.linalg.norm(np.median(moved, axis=0)) / neutral.interocular())


def assess(
    neutral: Detection,
    neutral_frame: int,
    apex: Detection,
    apex_frame: int,
    thresholds: Thresholds,
) -> Verdict:
    """Quality of a clip whose neutral detection is usable (see `usable`)."""
    verdict = Verdict()
    face = neutral.face
    assert face is not None
    if len(neutral.faces) > thresholds.max_faces:
        verdict = verdict.add(REJECTED, f"{len(neutral.faces)} faces on frame {neutral_frame}")
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
    moved = f"apex frame {apex_frame} landmarks moved {motion:.2f} interocular from the neutral"
    if motion > thresholds.max_motion:
        verdict = verdict.add(REJECTED, f"{moved} (max {thresholds.max_motion:g}): clip moved")
    elif motion > thresholds.flag_motion:
        verdict = verdict.add(FLAGGED, f"{moved} (flag above {thresholds.flag_motion:g})")
    return verdict
