"""Motion preserved: with one transform per clip, the aligned apex frame differs from the
aligned neutral frame only where the face moved; per-frame alignment adds change
everywhere (jitter of the size of the micro-expression itself)."""

from __future__ import annotations

import cv2
import numpy as np
import pandas as pd
import pytest
from align_helpers import clip_row

from mepipe.align.transform import scale_of
from mepipe.demo.face import EMOTION_MOTIONS, Look, placement, render_clip, unit_field
from mepipe.shards import ShardOptions
from mepipe.shards.clip import align_clip, new_landmarker
from mepipe.shards.plan import clip_to_align

FRAME = (320, 240)
AMPLITUDE = 3.0  # frame pixels at the apex: a micro-expression
LABEL = "happiness"  # a smile: mouth corners and cheeks


def _decode(data: bytes) -> np.ndarray:
    return cv2.imdecode(np.frombuffer(data, np.uint8), cv2.IMREAD_COLOR).astype(np.int16)


@pytest.fixture(scope="module")
def aligned(tmp_path_factory):
    """The same smile clip aligned per clip and per frame (PNG: no compression noise)."""
    root = tmp_path_factory.mktemp("motion")
    look = Look.for_subject(1)
    frames = render_clip(look, LABEL, 9, 4, AMPLITUDE, FRAME)
    row = pd.Series(clip_row(root, "sub01", "smile", frames=frames, size=FRAME))
    results = {}
    options = ShardOptions(size=224, format="png")
    landmarker = new_landmarker(options)
    for mode in ("clip", "per-frame"):
        results[mode] = align_clip(
            clip_to_align(row), ShardOptions(size=224, format="png", align=mode), landmarker
        )
    landmarker.close()
    return look, results


def _moving_region(look: Look, transform: list[float]) -> np.ndarray:
    """Aligned pixels that the demo's motion displaces by more than 0.05 px at the apex."""
    matrix = np.array(transform).reshape(2, 3)
    photo_to_frame = np.vstack([placement(look, FRAME), [0, 0, 1]])
    photo_to_aligned = matrix @ photo_to_frame
    field = unit_field(EMOTION_MOTIONS[LABEL])
    magnitude = np.hypot(field[..., 0], field[..., 1]) * AMPLITUDE * scale_of(matrix)
    moving = cv2.warpAffine(magnitude, photo_to_aligned, (224, 224)) > 0.05
    return cv2.dilate(moving.astype(np.uint8), np.ones((5, 5), np.uint8)) > 0


def test_clip_alignment_changes_only_the_moving_region(aligned):
    look, results = aligned
    clip = results["clip"]
    assert clip.verdict.status == "ok"
    diff = np.abs(_decode(clip.images["e2.png"]) - _decode(clip.images["neutral.png"])).max(axis=2)
    moving = _moving_region(look, clip.transform)
    assert 0.05 < moving.mean() < 0.6  # the smile is a part of the crop, not all of it
    # elsewhere: the same pixels, up to the rounding of two resamplings
    assert diff[~moving].max() <= 3 and diff[~moving].mean() < 0.1
    assert diff[moving].mean() > 1.0
    assert diff[moving].max() >= 20  # the smile itself is clearly there


def test_per_frame_alignment_adds_change_everywhere(aligned):
    look, results = aligned
    clip, per_frame = results["clip"], results["per-frame"]
    moving = _moving_region(look, clip.transform)

    def still_change(result) -> float:
        diff = np.abs(_decode(result.images["e2.png"]) - _decode(result.images["neutral.png"]))
        return float(diff.max(axis=2)[~moving].mean())

    assert per_frame.frame_transforms is not None and len(per_frame.frame_transforms) == 6
    assert still_change(per_frame) > 3 * still_change(clip) + 0.5
