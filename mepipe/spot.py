"""Spotting: a motion signal over time from aligned face crops, and the intervals in it.

The signal is the feature-difference idea of the MEGC spotting baselines (Li et al., "Spotting
micro-expressions on long videos sequences", FG 2019 / MEGC 2019), with dense optical flow as
the feature: frame t is compared with the frames k before and k after it (k = `reference`
seconds), and the difference D(t) is the mean of the two motions. A movement that starts
and ends within about 2k peaks at its apex, while a steady face and slow drift stay low.
D also echoes every movement at half height k frames before and after it; the contrast of
Moilanen, Zhao and Pietikainen (ICPR 2014), C(t) = D(t) - (D(t-k) + D(t+k)) / 2 with
negative values set to 0, removes the echoes, and C is the signal that is thresholded.
(One side alone, only the frame k back, would give a second, equal peak when the face
returns to neutral.) A held expression (neutral, then a smile that stays) is found at its
onset, with a quarter of the height a movement that returns would give.

The motion between two crops is Farneback optical flow (mepipe.flow), less its median over the
face (what is left of head motion inside an alignment window), measured as the 95th
percentile of the flow's length in each facial region (brows and eyes, mouth and cheeks):
a micro-expression moves a small part of a region, which a mean would dilute. The larger
of the two regions counts. The unit is the interocular distance of the aligned face.

Intervals are the peaks of C above a threshold (scipy.signal.find_peaks): C's median plus
`threshold` robust standard deviations (1.4826 x the median absolute deviation), and never
below `floor`. The interval runs from where D rises above half of its value at the peak
(measured from D's median) to where it falls below it again, and its apex is where D is
largest inside it (for a movement longer than 2k, C peaks on its flanks, D at its apex).
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field

import numpy as np
from scipy.signal import find_peaks

from mepipe.align.transform import TEMPLATE_INTEROCULAR
from mepipe.errors import OptionError
from mepipe.flow import FlowOptions, optical_flow

# Side of the grey analysis crops, pixels: enough for flow to see a 2-3 pixel movement of
# a 40-pixel interocular face, and small enough that a long video's crops fit in memory.
ANALYSIS_SIZE = 128
# Facial regions as fractions of the aligned crop (x0, y0, x1, y1), on the template of
# mepipe.align.transform: eye line at 0.37, nose tip near 0.54, mouth corners near 0.68.
REGIONS: dict[str, tuple[float, float, float, float]] = {
    "brows_eyes": (0.18, 0.20, 0.82, 0.45),
    "mouth": (0.22, 0.56, 0.78, 0.86),
}
FACE = (0.15, 0.15, 0.85, 0.90)
REGION_PERCENTILE = 95
# Farneback with ingest's parameters (mepipe.flow): TV-L1 is several times slower, and the
# signal needs two flows per frame of the whole video.
SPOT_FLOW = FlowOptions(flow="farneback")
MICRO, MACRO = "micro", "macro"


@dataclass(frozen=True)
class SpotOptions:
    """How `mepipe predict` finds movements; each field is also a flag (mepipe.cli.options).

    Defaults: MEGC's limits (a micro-expression lasts at most 0.5 s), a reference k of a
    quarter second (half the longest micro-expression, as the MEGC baselines choose k), a
    threshold of 6 robust standard deviations above the median, and a floor of 0.01
    interocular distances, which decides wherever C is 0 on more than half of the frames
    (most footage: the median and MAD of C are then 0): on
    the demo video the steady stretches reach 0.009 at most, where the micro-expression
    reaches 0.037 (tests/test_spot.py).
    """

    reference: float = field(
        default=0.25,
        metadata={
            "help": "k: compare each frame with the frames this many seconds before and after"
        },
    )
    threshold: float = field(
        default=6.0, metadata={"help": "peaks above median + this many robust std of the signal"}
    )
    floor: float = field(
        default=0.01, metadata={"help": "lowest threshold, in interocular distances of motion"}
    )
    micro_max: float = field(
        default=0.5, metadata={"help": "longest micro-expression, seconds (longer: macro)"}
    )
    macro_max: float = field(
        default=4.0, metadata={"help": "longest movement kept, seconds (longer: dropped)"}
    )
    min_length: float = field(default=0.04, metadata={"help": "shortest movement kept, seconds"})
    refresh: float = field(
        default=0.06,
        metadata={
            "help": "refit the alignment when the head moved this many interocular distances"
        },
    )

    def __post_init__(self) -> None:
        for name in ("reference", "threshold", "floor", "micro_max", "macro_max", "refresh"):
            value = getattr(self, name)
            if not np.isfinite(value) or value <= 0:
                raise OptionError(f"--{name.replace('_', '-')} must be > 0, got {value}")
        if not 0 <= self.min_length <= self.micro_max <= self.macro_max:
            raise OptionError(
                "need 0 <= --min-length <= --micro-max <= --macro-max, got "
                f"{self.min_length}, {self.micro_max}, {self.macro_max}"
            )

    def k(self, fps: float) -> int:
        """The reference distance in frames (at least one)."""
        return max(1, round(self.reference * fps))


@dataclass(frozen=True)
class Interval:
    """One movement, in frame indices of the footage (inclusive), with its score."""

    onset: int
    apex: int
    offset: int
    score: float  # peak / threshold (>= 1 for spotted intervals); 0 when given by the user
    kind: str = MICRO

    @property
    def frames(self) -> int:
        return self.offset - self.onset + 1


def _box(shape: tuple[int, int], box: tuple[float, float, float, float]) -> tuple[slice, slice]:
    height, width = shape
    x0, y0, x1, y1 = box
    return slice(round(y0 * height), round(y1 * height)), slice(
        round(x0 * width), round(x1 * width)
    )


def motion(before: np.ndarray, after: np.ndarray) -> float:
    """How much the face moved from grey crop `before` to `after`, interocular distances."""
    flow = optical_flow(before, after, SPOT_FLOW)
    face = flow[_box(flow.shape[:2], FACE)].reshape(-1, 2)
    flow = flow - np.median(face, axis=0)
    length = np.hypot(flow[..., 0], flow[..., 1])
    moved = max(
        float(np.percentile(length[_box(length.shape, box)], REGION_PERCENTILE))
        for box in REGIONS.values()
    )
    return moved / (TEMPLATE_INTEROCULAR * before.shape[1])


@dataclass(frozen=True)
class Signal:
    """The motion of every frame (NaN where there is no face): D and its contrast C."""

    difference: np.ndarray
    contrast: np.ndarray
    k: int


def contrast(difference: np.ndarray, k: int) -> np.ndarray:
    """C(t) = D(t) - (D(t-k) + D(t+k)) / 2, at least 0; a neighbour outside the footage or
    without a face counts as D's median (NaN stays NaN)."""
    finite = np.isfinite(difference)
    base = float(np.median(difference[finite])) if finite.any() else 0.0
    padded = np.where(finite, difference, base)
    before = np.concatenate([np.full(k, base), padded[:-k]])[: len(padded)]
    after = np.concatenate([padded[k:], np.full(k, base)])[: len(padded)]
    result = np.maximum(difference - (before + after) / 2, 0.0)
    return np.where(finite, result, np.nan)


def motion_signal(
    crops: np.ndarray, window_of: np.ndarray, k: int, on_frame: Callable[[int], None] | None = None
) -> Signal:
    """D and C of every frame (see the module docstring).

    `crops`: (n, S, S) uint8 grey aligned crops; `window_of`: each frame's alignment window
    (-1 for no face). A neighbour outside the frame's window is replaced by the nearest frame
    of the window (crops of two windows are aligned differently); a frame alone in its
    window gets 0.
    """
    n = len(crops)
    signal = np.full(n, np.nan)
    for t in range(n):
        window = window_of[t]
        if window < 0:
            continue
        values = []
        for step in (-k, k):
            u = t + step
            direction = 1 if step > 0 else -1
            u = min(max(u, 0), n - 1)
            while u != t and window_of[u] != window:
                u -= direction
            if u != t:
                values.append(motion(crops[u], crops[t]))
        signal[t] = float(np.mean(values)) if values else 0.0
        if on_frame:
            on_frame(t)
    return Signal(signal, contrast(signal, k), k)


def threshold_of(signal: np.ndarray, options: SpotOptions) -> float:
    """median + `threshold` x robust std of the finite values, at least `floor`."""
    values = signal[np.isfinite(signal)]
    if not len(values):
        return options.floor
    median = float(np.median(values))
    spread = 1.4826 * float(np.median(np.abs(values - median)))
    return max(median + options.threshold * spread, options.floor)


def kind_of(frames: int, fps: float, options: SpotOptions) -> str:
    return MICRO if frames / fps <= options.micro_max else MACRO


def find_intervals(signal: Signal, fps: float, options: SpotOptions) -> list[Interval]:
    """Movements in `signal` (see the module docstring), in time order, not overlapping;
    those shorter than `min_length` or longer than `macro_max` are left out."""
    c, d = signal.contrast, signal.difference
    finite = np.isfinite(c)
    if not finite.any():
        return []
    level = threshold_of(c, options)
    base = float(np.median(d[finite]))
    filled = np.where(finite, c, 0.0)
    peaks, _ = find_peaks(filled, height=level, distance=signal.k)
    intervals: list[Interval] = []
    for peak in sorted(peaks, key=lambda p: -filled[p]):
        half = base + 0.5 * (d[peak] - base)
        onset = peak
        while onset > 0 and finite[onset - 1] and d[onset - 1] > half:
            onset -= 1
        offset = peak
        while offset < len(d) - 1 and finite[offset + 1] and d[offset + 1] > half:
            offset += 1
        if any(i.onset <= offset and onset <= i.offset for i in intervals):
            continue  # a smaller peak on the flank of a larger one
        frames = offset - onset + 1
        if not options.min_length * fps <= frames <= options.macro_max * fps:
            continue
        score = float(filled[peak] / level)
        apex = onset + int(np.nanargmax(d[onset : offset + 1]))
        intervals.append(
            Interval(int(onset), apex, int(offset), score, kind_of(frames, fps, options))
        )
    return sorted(intervals, key=lambda i: i.onset)
