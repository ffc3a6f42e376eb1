"""MMI Facial Expression Database: one video per session, labelled in a per-video XML.

Layout (docs/releases.md)::

    Sessions/<id>/S050-003.avi               the video (frames are 1-based indices into it)
    Sessions/<id>/S050-003.xml               <Metatag Name="Emotion" Value="4"/> among others
    Sessions/<id>/S050-003-oao_aucs.xml      some sessions: onset/apex/offset markers
    Sessions/<id>/session.xml                not used here

`extra` holds the session id and, where there is one, the marker file's name.

Quirks handled here:
- Emotion codes 1-6 name the six basic emotions (manifests/databases.toml); sessions with
  another code, no Emotion tag, no metadata file or still images instead of a video are
  unlabelled: listed, not errors. A code that is not a number is a broken file: fatal.
- Markers: `<ActionUnit Number=".."><Marker Frame="N" Type="T"/>`, 1-based, Type 1 onset,
  2 apex, 3 offset (0 neutral, ignored). Several action units each carry markers: onset =
  earliest type 1, apex = the first type 2, offset = latest type 3.
- Without markers a video runs neutral -> peak -> neutral: onset = 1, offset = last frame,
  apex chosen at ingest by `--apex-method` (mepipe.apex), their midpoint by default
  (ApexSource.MIDPOINT). A missing apex marker is treated the same.
- Markers with holes are checked like the sheets of CASME II and SAMM
  (mepipe.apex.check_annotation): an offset past the video's end or before the onset or
  apex is clamped to the last frame, an apex marker on the onset or outside onset..offset
  is estimated from the frames (ApexSource.ESTIMATED); the clip is flagged, naming the
  marker file. An onset marker that is not a frame of the video rejects the clip.
- AVI headers of hand-converted files misstate their length, and frames are later read
  sequentially, so frames are counted by reading through the video.
"""

from __future__ import annotations

import xml.etree.ElementTree as ET
from dataclasses import dataclass
from pathlib import Path

import cv2

from mepipe.adapters.base import Adapter, ParseResult
from mepipe.adapters.layout import find_folder, subfolders, visible_files
from mepipe.adapters.record import clip_record
from mepipe.apex import check_annotation, midpoint_apex
from mepipe.errors import MepipeError
from mepipe.frames import IMAGE_EXTENSIONS
from mepipe.protocols import normalise_label
from mepipe.records import ApexSource, ClipRecord, FrameSource

SESSIONS = "Sessions"
VIDEO_EXTENSIONS = frozenset({".avi", ".mp4", ".wmv", ".mov", ".mpg", ".mpeg"})
ONSET, APEX, OFFSET = 1, 2, 3


@dataclass(frozen=True)
class Markers:
    """What an `-oao_aucs.xml` file says; None where it has no marker of that type."""

    onset: int | None
    apex: int | None
    offset: int | None
    action_units: str | None


@dataclass(frozen=True)
class VideoFacts:
    frames: int
    width: int
    height: int
    fps: float


class MmiAdapter(Adapter):
    name = "mmi"
    title = "MMI"

    @classmethod
    def looks_like(cls, root: Path) -> bool:
        return find_folder(root, SESSIONS) is not None

    def parse(self) -> ParseResult:
        sessions = find_folder(self.root, SESSIONS)
        if sessions is None:
            raise MepipeError(f"no {SESSIONS} folder here or a few levels below", self.root)
        result = ParseResult(records=[])
        # Session ids are numbers: 91 before 101.
        folders = subfolders(sessions, None, result.stray_files)
        folders.sort(
            key=lambda f: (not f.name.isdigit(), int(f.name) if f.name.isdigit() else 0, f.name)
        )
        for session in folders:
            self._parse_session(session, result)
        return result

    def _parse_session(self, session: Path, result: ParseResult) -> None:
        files = visible_files(session)
        videos = [f for f in files if f.suffix.lower() in VIDEO_EXTENSIONS]
        if not videos:
            stills = any(f.suffix.lower() in IMAGE_EXTENSIONS for f in files)
            what = "still images, no video" if stills else "no video"
            result.unlabelled.append(f"session {session.name}: {what}")
            expected = IMAGE_EXTENSIONS | {".xml"}
            result.stray_files.extend(
                str(e)
                for e in sorted(session.iterdir())
                if e not in files or e.suffix.lower() not in expected
            )
            return
        known = {session / "session.xml"}
        for video in videos:
            known |= {video, video.with_suffix(".xml"), _markers_path(video)}
        result.stray_files.extend(str(e) for e in sorted(session.iterdir()) if e not in known)
        for video in videos:
            label, why = _emotion(video.with_suffix(".xml"))
            if label is None:
                result.unlabelled.append(f"{video.stem}: {why}")
                continue
            result.records.append(self._record(session, video, label))

    def _record(self, session: Path, video: Path, label: str) -> ClipRecord:
        markers_file = _markers_path(video)
        markers = _read_markers(markers_file) if markers_file.exists() else None
        record = clip_record(
            self.name,
            video.stem.split("-")[0],
            video.stem,
            label,
            FrameSource(numbers=(), video=str(video)),
            ApexSource.OAO_MARKER if markers and markers.apex is not None else ApexSource.MIDPOINT,
            action_units=markers.action_units if markers else None,
            extra={"session": session.name},
        )
        if markers is not None:
            record.extra["markers"] = markers_file.name
        facts = _video_facts(video)
        if isinstance(facts, str):
            record.reject_reason = facts
            return record
        record.source = FrameSource(numbers=tuple(range(1, facts.frames + 1)), video=str(video))
        record.width, record.height = facts.width, facts.height
        record.fps = facts.fps or record.fps
        given = markers or Markers(None, None, None, None)
        record.onset = 1 if given.onset is None else given.onset
        record.offset = facts.frames if given.offset is None else given.offset
        record.apex = given.apex
        if not 1 <= record.onset <= facts.frames:
            record.reject_reason = (
                f"onset marker {record.onset} in {markers_file.name} is not a frame of the "
                f"video (video has {facts.frames} frames)"
            )
            return record
        numbers = record.source.numbers
        check = check_annotation(record.onset, given.apex, record.offset, numbers, no_apex=None)
        record.offset = check.offset
        if given.apex is None:  # no apex marker: the midpoint, as without a marker file
            record.apex = midpoint_apex(numbers, record.onset, record.offset)
        elif check.apex is None:
            record.apex, record.apex_source = None, ApexSource.ESTIMATED  # mepipe.apex
        if check.notes:
            record.flag = f"{markers_file.name}: " + "; ".join(check.notes)
        return record


def _markers_path(video: Path) -> Path:
    return video.with_name(f"{video.stem}-oao_aucs.xml")


def _parse_xml(path: Path) -> ET.Element:
    try:
        return ET.parse(path).getroot()
    except ET.ParseError as exc:
        raise MepipeError(f"malformed XML: {exc}", path) from None


def _elements(root: ET.Element, tag: str) -> list[ET.Element]:
    """Elements named `tag` anywhere below `root`, ignoring any XML namespace."""
    return [e for e in root.iter() if isinstance(e.tag, str) and e.tag.split("}")[-1] == tag]


def _emotion(metadata: Path) -> tuple[str | None, str]:
    """(label, "") or (None, why the video is unlabelled)."""
    if not metadata.exists():
        return None, f"no {metadata.name}"
    tags = [
        t
        for t in _elements(_parse_xml(metadata), "Metatag")
        if t.get("Name", "").lower() == "emotion"
    ]
    if not tags:
        return None, "no Emotion tag"
    value = tags[0].get("Value", "").strip()
    try:
        float(value)
    except ValueError:
        raise MepipeError(f"Emotion Metatag value '{value}' is not a number", metadata) from None
    try:
        return normalise_label("mmi", value), ""
    except ValueError:
        return None, f"emotion code {value} not used"


def _integer(marker: ET.Element, name: str, path: Path) -> int:
    text = marker.get(name, "")
    try:
        return int(text)
    except ValueError:
        raise MepipeError(f"Marker attribute {name}='{text}' is not an integer", path) from None


def _read_markers(path: Path) -> Markers:
    found: dict[int, list[int]] = {ONSET: [], APEX: [], OFFSET: []}
    units: list[str] = []
    for unit in _elements(_parse_xml(path), "ActionUnit"):
        number = unit.get("Number", "").strip()
        if number and number not in units:
            units.append(number)
        for marker in _elements(unit, "Marker"):
            kind, frame = _integer(marker, "Type", path), _integer(marker, "Frame", path)
            if kind in found:
                found[kind].append(frame)
    return Markers(
        onset=min(found[ONSET], default=None),
        apex=found[APEX][0] if found[APEX] else None,
        offset=max(found[OFFSET], default=None),
        action_units="+".join(units) or None,
    )


def _video_facts(video: Path) -> VideoFacts | str:
    """Frame count, size and rate of a video, or why it cannot be used."""
    capture = cv2.VideoCapture(str(video))
    try:
        if not capture.isOpened():
            return f"cannot open video {video}"
        frames = 0
        while capture.grab():
            frames += 1
        if frames == 0:
            return f"video {video} holds no readable frame"
        return VideoFacts(
            frames=frames,
            width=int(capture.get(cv2.CAP_PROP_FRAME_WIDTH)),
            height=int(capture.get(cv2.CAP_PROP_FRAME_HEIGHT)),
            fps=float(capture.get(cv2.CAP_PROP_FPS) or 0.0),
        )
    finally:
        capture.release()
