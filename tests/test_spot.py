"""Spotting (mepipe.spot): the contrast, the threshold and the intervals on known signals,
and on the demo video with expressions at known frames (mepipe.demo.video)."""

from __future__ import annotations

import numpy as np
import pytest

from mepipe.demo.video import DEMO_EVENTS, demo_video_frames, write_video
from mepipe.errors import OptionError
from mepipe.predict.pipeline import predict_video
from mepipe.spot import MACRO, MICRO, Signal, SpotOptions, contrast, find_intervals

# The spotted apex of a demo event lies within this many frames of the true apex
# (docs/predict.md); the onset and offset within a reference distance k.
APEX_TOLERANCE = 2


def bump(n: int, centre: int, half: int, height: float) -> np.ndarray:
    t = np.arange(n)
    return height * np.clip(1 - np.abs(t - centre) / half, 0, None)


def signal_of(difference: np.ndarray, k: int) -> Signal:
    return Signal(difference, contrast(difference, k), k)


def test_contrast_removes_the_echoes_of_a_movement():
    """D echoes a movement at half height k frames before and after it; C keeps the peak only."""
    k = 8
    d = 0.001 + bump(100, 50, 4, 0.08) + bump(100, 42, 4, 0.04) + bump(100, 58, 4, 0.04)
    c = contrast(d, k)
    assert int(np.argmax(c)) == 50
    assert c[42] < 0.1 * c[50] and c[58] < 0.1 * c[50]


def test_one_interval_per_movement_with_its_kind():
    fps, k = 30.0, 8
    rng = np.random.default_rng(0)
    d = 0.002 + 0.0005 * rng.random(300) + bump(300, 60, 5, 0.06) + bump(300, 200, 24, 0.1)
    found = find_intervals(signal_of(d, k), fps, SpotOptions())
    assert [(i.apex, i.kind) for i in found] == [(60, MICRO), (200, MACRO)]
    assert found[0].onset < 60 < found[0].offset and found[0].frames / fps <= 0.5
    assert all(i.score >= 1 for i in found)


def test_a_steady_signal_gives_no_interval():
    rng = np.random.default_rng(1)
    d = 0.002 + 0.001 * rng.random(600)
    assert find_intervals(signal_of(d, 8), 30.0, SpotOptions()) == []


def test_frames_without_a_face_are_gaps_not_movements():
    d = 0.002 + bump(200, 100, 5, 0.06)
    d[20:40] = np.nan
    found = find_intervals(signal_of(d, 8), 30.0, SpotOptions())
    assert [i.apex for i in found] == [100]


def test_length_limits_drop_longer_movements():
    d = 0.002 + bump(400, 200, 60, 0.1)  # 2 s above half height at 30 fps
    assert find_intervals(signal_of(d, 8), 30.0, SpotOptions(macro_max=1.0)) == []


@pytest.mark.parametrize(
    "bad", [{"reference": 0}, {"threshold": -1}, {"micro_max": 5, "macro_max": 1}]
)
def test_options_are_checked(bad):
    with pytest.raises(OptionError):
        SpotOptions(**bad)


@pytest.mark.parametrize("form", ["mp4", "frames"])
def test_demo_video_spots_the_injected_expressions_and_nothing_else(tmp_path, form):
    """Spotting alone (no model) on the demo face: each injected expression is found with
    its apex within APEX_TOLERANCE frames and of the right kind; the steady stretches hold
    no interval. As an mp4 (compressed) and as a folder of PNG frames."""
    frames = demo_video_frames()
    video = write_video(tmp_path / ("demo.mp4" if form == "mp4" else "frames"), frames)
    result = predict_video(video, SpotOptions())
    assert result.footage.count == len(frames) and result.tracking.gaps() == []
    found = [f.interval for f in result.found]
    assert len(found) == len(DEMO_EVENTS), found
    for interval, event in zip(found, DEMO_EVENTS, strict=True):
        assert abs(interval.apex - event.apex) <= APEX_TOLERANCE, (interval, event)
        k = result.signal.k
        assert event.onset - k <= interval.onset and interval.offset <= event.offset + k
        expected = MICRO if (event.offset - event.onset + 1) / 30 <= 0.5 else MACRO
        assert interval.kind == expected
    moving = set()
    for event in DEMO_EVENTS:
        moving |= set(range(event.onset - result.signal.k, event.offset + result.signal.k + 1))
    for interval in found:
        assert set(range(interval.onset, interval.offset + 1)) <= moving
    # each sample is aligned at ingest's default crop size, neutral first
    assert all(len(f.sample.images) == 6 for f in result.found)
    assert result.found[0].sample.images[0].shape == (224, 224, 3)
