"""Typed records that the ingest stages hand to each other.

adapter.parse() -> ClipRecord -> frames.select_frames() -> FrameSelection
-> protocols (labels per scheme) -> manifest row -> align/shards.

One ClipRecord per clip the release names (annotation row, labelled folder or video),
including clips that turn out to be unusable: those carry `reject_reason`, so that the
manifest and the ingest report account for every clip and nothing is dropped silently.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from enum import StrEnum


class ApexSource(StrEnum):
    """Where a clip's apex frame index came from (recorded in the manifest)."""

    ANNOTATED = "annotated"  # the release's annotation sheet (CASME II, SAMM)
    MIDPOINT = "midpoint"  # onset + (offset - onset) // 2 (SMIC default, MMI without markers)
    MAX_DIFF = "max-diff"  # the frame that differs most from onset (SMIC option)
    LAST_FRAME = "last-frame"  # sequences that end at the peak (CK+, Oulu-CASIA)
    OAO_MARKER = "oao-marker"  # MMI's onset/apex/offset marker file
    # The annotation's apex is missing or unusable (empty, '/', -1, the onset, outside
    # onset..offset): the frame that differs most from onset stands in (mepipe.apex).
    ESTIMATED = "estimated:max-diff"


KEY_SEPARATOR = "__"
# In a key part, these are percent-encoded (`%2E`): the escape character itself, the dot
# (WebDataset splits a member name at its first dot), and every underscore that would touch
# another one or a part's edge (so `__` only ever separates parts).
_KEY_ESCAPED = re.compile(r"%|\.|^_|_$|_(?=_)|(?<=_)_")


def _key_part(text: str) -> str:
    return _KEY_ESCAPED.sub(lambda m: f"%{ord(m.group()):02X}", text)


def clip_key(database: str, subject: str, clip: str) -> str:
    """The one identifier of a clip everywhere (manifest, splits, shards, predictions).

    Distinct clips always get distinct keys: each part is percent-encoded where it must be
    (`EP01.9` -> `EP01%2E9`, while `EP01-9` stays as it is), so the key splits at `__` back
    into its three parts and `urllib.parse.unquote` gives each part back. Names of the
    known releases hold none of the encoded characters, so their keys read as the names.
    """
    return KEY_SEPARATOR.join(_key_part(part) for part in (database, subject, clip))


@dataclass(frozen=True)
class FrameSource:
    """Where a clip's frames live.

    `numbers` are the frame numbers as the release names them (the absolute index in the
    original recording for CASME II, SMIC and SAMM), sorted numerically. Image sequences give
    one path per number; a video (MMI) gives `video` and 1-based frame numbers.
    """

    numbers: tuple[int, ...]
    paths: tuple[str, ...] = ()
    video: str | None = None

    def __post_init__(self) -> None:
        if self.video is None and len(self.paths) != len(self.numbers):
            raise ValueError("an image-sequence FrameSource needs one path per frame number")

    def path_of(self, number: int) -> str:
        """The image file of frame `number` (image sequences only)."""
        return self.paths[self.numbers.index(number)]

    def has(self, number: int) -> bool:
        return number in self.numbers


@dataclass
class ClipRecord:
    """One clip as the raw release describes it, before any image is decoded.

    `label` is the release's own emotion name, normalised to lower case through
    manifests/databases.toml (CK+ and MMI codes become names; SAMM 'Other' becomes 'others').
    `subject` is normalised: CASME II `sub01`, SMIC `s1` (as its folders), SAMM `006`,
    CK+ `S005`, Oulu `P001`, MMI `S050`.
    """

    database: str
    subject: str
    clip: str
    label: str | None
    source: FrameSource
    onset: int
    apex: int | None
    offset: int
    apex_source: ApexSource
    fps: float
    width: int = 0
    height: int = 0
    action_units: str | None = None
    # Release-specific facts worth keeping: SMIC subset/variant, Oulu modality/lighting,
    # the annotation file and row a clip came from.
    extra: dict[str, str] = field(default_factory=dict)
    # Set when the clip cannot be used; the reason goes to the manifest and the report.
    reject_reason: str | None = None
    # Set when the clip is usable but its annotation was repaired (apex estimated, offset
    # clamped to the frames on disk): the clip is flagged with this reason.
    flag: str | None = None

    @property
    def key(self) -> str:
        return clip_key(self.database, self.subject, self.clip)


@dataclass(frozen=True)
class FrameSelection:
    """The frames a clip contributes: one neutral frame and five expression frames.

    `flag` explains anything unusual that was done (window shifted past missing frames,
    frames repeated because the clip is shorter than five); None when nothing was.
    """

    neutral: int
    expression: tuple[int, ...]
    flag: str | None = None


@dataclass
class Rejection:
    """A clip that ingest could not use, for the report."""

    key: str
    reason: str


@dataclass
class IngestReport:
    """Everything a user needs to trust an ingest: what came in, what was left out and why."""

    database: str
    root: str
    clips_found: int = 0
    clips_accepted: int = 0
    labels: dict[str, int] = field(default_factory=dict)
    rejected: list[Rejection] = field(default_factory=list)
    flagged: list[Rejection] = field(default_factory=list)
    # Sequences present on disk without any label (CK+ without an emotion file, MMI
    # sessions without an Emotion tag or with still images): counted, not errors.
    unlabelled: list[str] = field(default_factory=list)
    stray_files: list[str] = field(default_factory=list)
    notes: list[str] = field(default_factory=list)
    # What made this data: the mepipe version and every option, so a manifest can be
    # traced to, and rebuilt by, the exact command that wrote it.
    provenance: dict[str, object] = field(default_factory=dict)
