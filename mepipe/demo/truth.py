"""What the demo generator knows it wrote: the ground truth that tests compare ingest to."""

from __future__ import annotations

from dataclasses import asdict, dataclass, field
from typing import Any


@dataclass
class DemoClip:
    """One clip of a demo release, in the terms the manifest will use.

    Frame numbers are as named on disk (absolute indices, like the real releases).
    `rejected` is set for clips the writer made broken on purpose (bad-input fixtures);
    it holds the words the ingest report must use, e.g. "missing on disk".
    `hole` names the hole the writer put in the clip's sheet row (mepipe.demo.micro
    SHEET_HOLES, e.g. "empty apex"); `flagged` then holds the words the clip's flag must
    use. `apex` and `offset` stay the truth (where the motion peaks, the last frame on
    disk), which is what ingest must estimate or clamp its way back to.
    `align_rejected` is set for clips that only the face checks of an aligned ingest reject
    (a second person on the frame); it holds the words the reason starts with.
    """

    database: str
    subject: str  # normalised, as in the manifest (sub01, s1, 006, S005, P001, S050)
    clip: str
    label: str | None  # canonical source label (databases.toml), None if unlabelled
    onset: int
    apex: int | None
    offset: int
    frame_numbers: list[int]
    motions: tuple[str, ...]
    amplitude: float  # landmark displacement at the apex, frame pixels
    look: int  # subject look index (mepipe.demo.face.Look.for_subject)
    size: tuple[int, int]  # (width, height) of the frames
    extra: dict[str, str] = field(default_factory=dict)
    rejected: str | None = None
    hole: str | None = None
    flagged: str | None = None
    align_rejected: str | None = None

    def to_json(self) -> dict[str, Any]:
        return asdict(self)
