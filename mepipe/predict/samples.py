"""Each interval's six-frame sample, aligned the way ingest aligns a clip.

The frames are those training saw (mepipe.frames.select_frames): the onset frame as the
neutral one and five frames centred on the apex, shifted to stay inside the interval and
never taken from a frame without a face. The transform is fitted, as ingest fits it
(mepipe.shards.clip), on FaceMesh's points of the neutral frame with the data's crop size,
and applied to all six; the crops then go through the data's image encoding (JPEG at its
quality, or PNG), so the network sees the same kind of pixels it was trained on.
"""

from __future__ import annotations

from dataclasses import dataclass

import cv2
import numpy as np

from mepipe.align.landmarks import Landmarker
from mepipe.align.transform import fit_similarity, template, warp
from mepipe.errors import MepipeError
from mepipe.frames import select_frames
from mepipe.predict.track import Tracking
from mepipe.records import ApexSource, ClipRecord, FrameSource
from mepipe.shards.clip import encode
from mepipe.shards.options import ShardOptions
from mepipe.spot import Interval
from mepipe.video import Footage


@dataclass
class Sample:
    """One interval's frames (footage indices) and aligned crops, neutral first."""

    neutral: int
    expression: tuple[int, ...]
    images: list[np.ndarray]  # six RGB crops: neutral, then the five expression frames
    note: str | None = None  # what select_frames had to do (frames repeated, ...)

    @property
    def frames(self) -> tuple[int, ...]:
        return (self.neutral, *self.expression)


def choose_frames(
    interval: Interval, tracking: Tracking, fps: float
) -> tuple[int, tuple[int, ...], str | None]:
    """(neutral, five expression frames, note) of `interval` by select_frames' rule, over the
    interval's frames that have a face."""
    numbers = tuple(
        n for n in range(interval.onset, interval.offset + 1) if tracking.window_of[n] >= 0
    )
    if not numbers:
        raise MepipeError(
            f"interval {interval.onset}-{interval.offset} has no frame with a face to classify"
        )
    apex = interval.apex if interval.apex in numbers else numbers[len(numbers) // 2]
    record = ClipRecord(
        database="video", subject="-", clip=f"{interval.onset}-{interval.offset}", label=None,
        source=FrameSource(numbers, video="footage"), onset=numbers[0], apex=apex,
        offset=numbers[-1], apex_source=ApexSource.MAX_DIFF, fps=fps,
    )  # fmt: skip
    selection = select_frames(record)
    return selection.neutral, selection.expression, selection.flag


def _round_trip(image: np.ndarray, options: ShardOptions) -> np.ndarray:
    data = encode(image, options)
    decoded = cv2.imdecode(np.frombuffer(data, np.uint8), cv2.IMREAD_COLOR)
    return cv2.cvtColor(decoded, cv2.COLOR_BGR2RGB)


def build_samples(
    footage: Footage,
    intervals: list[Interval],
    tracking: Tracking,
    landmarker: Landmarker,
    options: ShardOptions,
) -> list[Sample]:
    """The aligned six-frame sample of every interval (one more pass over the footage,
    holding only the frames the samples use)."""
    chosen = [choose_frames(i, tracking, footage.fps) for i in intervals]
    wanted = sorted({n for neutral, expression, _ in chosen for n in (neutral, *expression)})
    frames = dict(footage.frames(wanted))
    size = options.size
    samples = []
    for neutral, expression, note in chosen:
        face = landmarker.detect(frames[neutral]).face
        if face is not None:
            matrix = fit_similarity(face.five(), template(size))
        else:  # FaceMesh missed the onset frame: the window's own transform stands in
            window = tracking.window(neutral)
            assert window is not None
            matrix = window.matrix(size)
        images = [
            _round_trip(warp(frames[n], matrix, size), options) for n in (neutral, *expression)
        ]
        samples.append(Sample(neutral, expression, images, note))
    return samples
