"""`mepipe predict` as a library call: footage in, a PredictResult out (nothing written).

footage (mepipe.video) -> face windows and analysis crops (track) -> motion signal and
intervals (mepipe.spot), or the intervals the user gave -> each interval's aligned
six-frame sample (samples) -> class probabilities (a Classifier, or none: spotting only).
The classifier is an argument, so the pipeline runs, and is tested, without the trainer.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np

from mepipe.align.landmarks import Landmarker
from mepipe.contract.model import ModelCard
from mepipe.errors import MepipeError
from mepipe.predict.classifier import Classifier
from mepipe.predict.samples import Sample, build_samples
from mepipe.predict.track import Tracking, track_face
from mepipe.shards.options import ShardOptions
from mepipe.spot import (
    Interval,
    Signal,
    SpotOptions,
    find_intervals,
    kind_of,
    motion_signal,
    threshold_of,
)
from mepipe.video import MAX_FRAMES, Footage, open_footage

# stage name, frames or items done, total
ProgressHook = Callable[[str, int, int], None]
SPOTTED, GIVEN = "spotted", "given"


@dataclass(frozen=True)
class GivenInterval:
    """An interval the user names (`--onset/--offset` or `--intervals CSV`), frame indices;
    `apex` None: where the motion is largest."""

    onset: int
    offset: int
    apex: int | None = None
    where: str = "--onset/--offset"  # for messages: the option, or the CSV file and row


@dataclass
class Found:
    """One interval and what was made of it."""

    interval: Interval
    source: str  # spotted or given
    sample: Sample
    probabilities: np.ndarray | None = None  # None without a classifier


@dataclass
class PredictResult:
    footage: Footage
    tracking: Tracking
    signal: Signal
    threshold: float
    found: list[Found]
    classes: tuple[str, ...] = ()
    card: ModelCard | None = None
    options: SpotOptions = field(default_factory=SpotOptions)

    def label(self, found: Found) -> str:
        if found.probabilities is None:
            return ""
        return self.classes[int(np.argmax(found.probabilities))]


def alignment_options(card: ModelCard | None) -> ShardOptions:
    """How the model's training data was aligned (ingest's defaults without a model)."""
    if card is None:
        return ShardOptions()
    alignment = card.alignment
    return ShardOptions(
        size=card.crop_size,
        format=str(alignment.get("format", "jpg")),
        quality=int(alignment.get("quality", 95)),
    )


def given_intervals(
    given: Sequence[GivenInterval], footage: Footage, signal: Signal, options: SpotOptions
) -> list[Interval]:
    """The user's intervals, checked against the footage, apex filled in where missing."""
    intervals = []
    for item in given:
        last = footage.count - 1
        if not 0 <= item.onset <= item.offset <= last:
            raise MepipeError(
                f"interval {item.onset}-{item.offset} is not within the footage's frames "
                f"0-{last} (onset <= offset)",
                item.where,
            )
        apex = item.apex
        if apex is None:
            part = signal.difference[item.onset : item.offset + 1]
            finite = np.isfinite(part)
            apex = item.onset + (int(np.nanargmax(part)) if finite.any() else len(part) // 2)
        elif not item.onset <= apex <= item.offset:
            raise MepipeError(f"apex {apex} is not within {item.onset}-{item.offset}", item.where)
        frames = item.offset - item.onset + 1
        intervals.append(
            Interval(item.onset, apex, item.offset, 0.0, kind_of(frames, footage.fps, options))
        )
    return intervals


def no_face_message(footage: Footage, landmarker: Landmarker) -> str:
    """Why no frame had a face to follow. A group seen from afar (FaceMesh finds no face
    that large, the full-range detector finds several small ones) is told apart from
    footage without people, so the user knows what to crop."""
    _, first = next(footage.frames([0]))
    small = landmarker.find_faces(first)
    if not small:
        return f"no face found in any of its {footage.count} frames"
    return (
        f"no face large enough to follow in any of its {footage.count} frames (frame 0 holds "
        f"{len(small)} small face(s)): predict follows one person who fills much of the "
        "frame; crop the video to that person"
    )


def predict_video(
    video: str | Path,
    options: SpotOptions,
    classifier: Classifier | None = None,
    card: ModelCard | None = None,
    given: Sequence[GivenInterval] = (),
    fps: float | None = None,
    max_frames: int = MAX_FRAMES,
    progress: ProgressHook | None = None,
) -> PredictResult:
    """Spot (or take `given`) intervals in `video` and classify them with `classifier`.

    Raises MepipeError for footage that cannot be read or holds no face at all; frames
    without a face are gaps of the result (`tracking.gaps()`), not errors.
    """
    footage = open_footage(video, fps=fps, max_frames=max_frames)

    def tick(stage: str, done: int, total: int) -> None:
        if progress:
            progress(stage, done, total)

    with Landmarker() as landmarker:
        tracking = track_face(
            footage, landmarker, options.refresh, lambda i: tick("face", i + 1, footage.count)
        )
        if not tracking.windows:
            raise MepipeError(no_face_message(footage, landmarker), video)
        signal = motion_signal(
            tracking.crops,
            tracking.window_of,
            options.k(footage.fps),
            lambda t: tick("motion", t + 1, footage.count),
        )
        if given:
            intervals, source = given_intervals(given, footage, signal, options), GIVEN
        else:
            intervals, source = find_intervals(signal, footage.fps, options), SPOTTED
        samples = build_samples(footage, intervals, tracking, landmarker, alignment_options(card))
    found = [Found(i, source, s) for i, s in zip(intervals, samples, strict=True)]
    if classifier is not None:
        for number, item in enumerate(found):
            images = item.sample.images
            item.probabilities = np.asarray(classifier.classify(images[0], images[1:]), float)
            tick("classify", number + 1, len(found))
    return PredictResult(
        footage=footage,
        tracking=tracking,
        signal=signal,
        threshold=threshold_of(signal.contrast, options),
        found=found,
        classes=tuple(classifier.classes) if classifier is not None else (),
        card=card,
        options=options,
    )
