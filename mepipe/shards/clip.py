"""One clip, from its manifest row to the encoded images of its shard sample.

decode -> landmarks (neutral frame, then the apex frame) -> quality -> warp -> encode ->
flow (with `--flow`: optical flow between the aligned crops, mepipe.flow). A clip whose
alignment is already known (an earlier ingest with other flow options, `ClipToAlign.known`)
skips landmarks and quality: its recorded transforms are applied again.
Runs in worker processes: its inputs (ClipToAlign, ShardOptions) and output (AlignedClip)
are plain picklable dataclasses, and each stage's time is measured for the summary. The
workers import this module only (no pandas, no rich): they start in well under a second.
"""

from __future__ import annotations

import time
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field, replace
from functools import partial
from typing import Any

import cv2
import numpy as np

from mepipe.align.landmarks import Detection, Landmarker, track_still_points
from mepipe.align.quality import (
    FLAGGED,
    REJECTED,
    Verdict,
    assess,
    confirm_candidates,
    usable,
    why_unusable,
)
from mepipe.align.transform import fit_similarity, template, warp
from mepipe.contract.sample import (
    APEX_OFFSET,
    EXPRESSIONS,
    FLOW,
    MAGNITUDE,
    NEUTRAL,
    OFFSET,
    ONSET_APEX,
    PAIR_SUFFIX,
    STRAIN,
)
from mepipe.errors import MepipeError
from mepipe.flow import flow_fields
from mepipe.images import read_frames
from mepipe.parent_watch import exit_with_parent
from mepipe.shards.index import ClipFacts
from mepipe.shards.options import ShardOptions

STAGES = ("decode", "landmarks", "faces", "warp", "encode", "flow", "write")
APEX_MEMBER = EXPRESSIONS[2]  # the middle expression frame is the apex (mepipe.frames)
# The crops each flow pair runs between.
PAIR_FRAMES = {ONSET_APEX: (NEUTRAL, APEX_MEMBER), APEX_OFFSET: (APEX_MEMBER, OFFSET)}


@dataclass(frozen=True)
class ClipToAlign:
    """What aligning one clip needs from its manifest row: the job a worker is handed."""

    key: str
    neutral: int
    expression: tuple[int, ...]
    apex: int  # the frame whose landmarks are compared with the neutral frame's
    frame_numbers: tuple[int, ...]
    frame_paths: tuple[str, ...]
    video: str | None = None
    kind: str = "micro"  # micro or macro: chooses the motion thresholds
    # The offset frame (the apex-offset flow pair): annotated, else the last frame on disk.
    offset: int | None = None
    # The alignment an earlier ingest recorded for this clip (same rows, same options but
    # flow): applied again instead of detecting the face.
    known: ClipFacts | None = None


@dataclass
class AlignedClip:
    """The outcome for one clip: quality verdict, alignment facts and encoded images."""

    key: str
    verdict: Verdict
    landmarks: list[float] | None = None  # five points of the detection frame, x0,y0,...
    transform: list[float] | None = None  # 2x3 similarity, row-major
    detect_frame: int | None = None
    # Per-frame alignment only: one 2x3 transform per member (neutral, e0..e4).
    frame_transforms: list[list[float]] | None = None
    images: dict[str, bytes] = field(default_factory=dict)  # "neutral.jpg" -> bytes, ...
    arrays: dict[str, np.ndarray] = field(default_factory=dict)  # "flow" -> (2, S, S), ...
    offset_frame: int | None = None  # with the apex-offset pair: the offset frame used
    timings: dict[str, float] = field(default_factory=dict)


class _Clock:
    def __init__(self) -> None:
        self.seconds = dict.fromkeys(STAGES, 0.0)

    @contextmanager
    def stage(self, name: str) -> Iterator[None]:
        start = time.perf_counter()
        try:
            yield
        finally:
            self.seconds[name] += time.perf_counter() - start


def new_landmarker(options: ShardOptions) -> Landmarker:
    """The landmarker of one worker (the same for every option: thresholds apply later)."""
    return Landmarker()


# One landmarker per worker process, built by the first clip that needs one.
_worker: dict[str, Any] = {}


def init_worker(options: ShardOptions, parent_pid: int) -> None:
    """ProcessPoolExecutor initializer: exit when the parent (`parent_pid`) dies, one OpenCV
    thread (workers are the parallelism)."""
    exit_with_parent(parent_pid)
    cv2.setNumThreads(1)
    _worker["options"] = options
    _worker["landmarker"] = None


def align_in_worker(clip: ClipToAlign) -> AlignedClip:
    if clip.known is None and _worker["landmarker"] is None:
        _worker["landmarker"] = new_landmarker(_worker["options"])
    return align_clip(clip, _worker["options"], _worker["landmarker"])


def encode(image: np.ndarray, options: ShardOptions) -> bytes:
    """RGB uint8 -> JPEG or PNG bytes (same pixels give the same bytes)."""
    bgr = cv2.cvtColor(image, cv2.COLOR_RGB2BGR)
    if options.format == "jpg":
        ok, data = cv2.imencode(".jpg", bgr, [cv2.IMWRITE_JPEG_QUALITY, options.quality])
    else:
        ok, data = cv2.imencode(".png", bgr, [cv2.IMWRITE_PNG_COMPRESSION, 3])
    if not ok:
        raise RuntimeError(f"OpenCV could not encode a {options.format} image")
    return data.tobytes()


def _flat(matrix: np.ndarray) -> list[float]:
    return [float(v) for v in matrix.ravel()]


def align_clip(
    clip: ClipToAlign, options: ShardOptions, landmarker: Landmarker | None
) -> AlignedClip:
    """Align one clip; a bad frame file or a failed quality check rejects the clip with its
    reason (it never raises for a per-clip problem). `landmarker` may be None only for a
    clip whose alignment is `known`."""
    clock = _Clock()
    try:
        if clip.known is not None:
            result = _realign(clip, clip.known, options, clock)
        else:
            assert landmarker is not None, "a clip without a known alignment needs a landmarker"
            result = _align(clip, options, landmarker, clock)
    except MepipeError as exc:
        result = AlignedClip(clip.key, Verdict().add(REJECTED, f"cannot read frames: {exc}"))
    result.timings = clock.seconds
    return result


def _align(
    clip: ClipToAlign, options: ShardOptions, landmarker: Landmarker, clock: _Clock
) -> AlignedClip:
    thresholds = options.thresholds
    size = options.size

    def read(numbers: list[int]) -> dict[int, np.ndarray]:
        wanted = sorted(set(numbers))
        with clock.stage("decode"):
            frames = read_frames(wanted, clip.frame_numbers, clip.frame_paths, clip.video)
        return dict(zip(wanted, frames, strict=True))

    members = _members(clip, options)
    frames = read([*(number for _, number in members), clip.apex])

    # The face is looked for on the neutral frame, then on the following frames.
    start = clip.frame_numbers.index(clip.neutral) if clip.neutral in clip.frame_numbers else 0
    candidates = list(clip.frame_numbers[start : start + thresholds.detect_tries]) or [clip.neutral]
    detection: Detection | None = None
    detect_frame = clip.neutral
    failures = []
    for number in candidates:
        if number not in frames:
            frames.update(read([number]))
        with clock.stage("landmarks"):
            found = landmarker.detect(frames[number])
        if usable(found, thresholds):
            detection, detect_frame = found, number
            break
        failures.append(why_unusable(found, number, thresholds))
    if detection is None:
        return AlignedClip(clip.key, Verdict().add(REJECTED, "; ".join(failures)))
    face = detection.face
    assert face is not None
    # Other people are counted once per clip, on the frame the face was found on.
    with clock.stage("faces"):
        frame = frames[detect_frame]
        detection = replace(detection, found=landmarker.find_faces(frame))
        detection = confirm_candidates(detection, thresholds, partial(landmarker.confirm, frame))
    with clock.stage("landmarks"):
        apex = detection
        if clip.apex != detect_frame:
            apex = track_still_points(frames[detect_frame], frames[clip.apex], face)
        verdict = assess(detection, detect_frame, apex, clip.apex, thresholds, clip.kind)
    if detect_frame != clip.neutral:
        verdict = verdict.add(
            FLAGGED, f"face found on frame {detect_frame}, not on the neutral {clip.neutral}"
        )
    target = template(size)
    matrix = fit_similarity(face.five(), target)
    result = AlignedClip(
        clip.key,
        verdict,
        landmarks=[float(v) for v in face.five().ravel()],
        transform=_flat(matrix),
        detect_frame=detect_frame,
    )
    if verdict.status == REJECTED:
        return result

    matrices = [matrix] * len(members)
    if options.align == "per-frame":
        matrices = []
        for _, number in members:
            with clock.stage("landmarks"):
                own = landmarker.detect(frames[number]).face
            if own is None:
                result.verdict = verdict.add(
                    REJECTED, f"per-frame alignment: no face found on frame {number}"
                )
                return result
            matrices.append(fit_similarity(own.five(), target))
        result.frame_transforms = [_flat(m) for m in matrices]
    _render(result, members, frames, matrices, options, clock)
    return result


def _members(clip: ClipToAlign, options: ShardOptions) -> list[tuple[str, int]]:
    """(image member, frame number) of the sample: neutral, e0..e4, and the offset frame
    with the apex-offset flow pair."""
    members = [(NEUTRAL, clip.neutral), *zip(EXPRESSIONS, clip.expression, strict=True)]
    flow = options.optical_flow
    if flow.on and APEX_OFFSET in flow.flow_pairs:
        members.append((OFFSET, clip.offset if clip.offset is not None else clip.frame_numbers[-1]))
    return members


def known_alignment_fits(facts: ClipFacts, clip: ClipToAlign, options: ShardOptions) -> bool:
    """Whether recorded facts can stand in for aligning `clip` again: a rejection, or a
    transform for every member (per-frame alignment records one per member)."""
    if facts.status == REJECTED:
        return True
    if facts.transform is None:
        return False
    if options.align == "per-frame":
        count = len(_members(clip, options))
        return facts.frame_transforms is not None and len(facts.frame_transforms) == count
    return True


def _realign(
    clip: ClipToAlign, facts: ClipFacts, options: ShardOptions, clock: _Clock
) -> AlignedClip:
    """A clip whose alignment an earlier ingest recorded: its verdict and transforms again,
    without the landmarker (only the crops and the flow are made)."""
    result = AlignedClip(
        clip.key,
        Verdict(facts.status, tuple(facts.reasons)),
        landmarks=facts.landmarks,
        transform=facts.transform,
        detect_frame=facts.detect_frame,
        frame_transforms=facts.frame_transforms,
    )
    if facts.status == REJECTED:
        return result
    assert facts.transform is not None
    members = _members(clip, options)
    wanted = sorted({number for _, number in members})
    with clock.stage("decode"):
        decoded = read_frames(wanted, clip.frame_numbers, clip.frame_paths, clip.video)
    frames = dict(zip(wanted, decoded, strict=True))
    flat = facts.frame_transforms or [facts.transform] * len(members)
    matrices = [np.asarray(m, dtype=np.float64).reshape(2, 3) for m in flat]
    _render(result, members, frames, matrices, options, clock)
    return result


def _render(
    result: AlignedClip,
    members: list[tuple[str, int]],
    frames: dict[int, np.ndarray],
    matrices: list[np.ndarray],
    options: ShardOptions,
    clock: _Clock,
) -> None:
    """Warp and encode every member; with flow on, the flow arrays between the crops."""
    crops = {}
    for (name, number), m in zip(members, matrices, strict=True):
        with clock.stage("warp"):
            crops[name] = warp(frames[number], m, options.size)
        with clock.stage("encode"):
            result.images[f"{name}.{options.format}"] = encode(crops[name], options)
        if name == OFFSET:
            result.offset_frame = number
    flow = options.optical_flow
    if not flow.on:
        return
    with clock.stage("flow"):
        for pair in flow.flow_pairs:
            first, second = PAIR_FRAMES[pair]
            fields = flow_fields(crops[first], crops[second], flow)
            suffix = PAIR_SUFFIX[pair]
            result.arrays[FLOW + suffix] = fields.flow
            result.arrays[STRAIN + suffix] = fields.strain
            result.arrays[MAGNITUDE + suffix] = fields.magnitude
