"""Each quality check rejects (or flags) the clip it should, with a reason that says why."""

from __future__ import annotations

from dataclasses import replace

import numpy as np
import pandas as pd
import pytest
from align_helpers import FRAME_SIZE, clip_row, manifest, shifted, turn_head

from mepipe.align.landmarks import Box, Detection, Face
from mepipe.align.quality import Thresholds, confirm_candidates, other_faces, several_faces
from mepipe.demo.face import Look, landmarks_in_frame, render_clip, render_frame
from mepipe.shards import ShardOptions, run_shards
from mepipe.shards.clip import align_clip, new_landmarker
from mepipe.shards.plan import clip_to_align

OPTIONS = ShardOptions(size=64)


@pytest.fixture(scope="module")
def landmarker():
    found = new_landmarker(OPTIONS)
    yield found
    found.close()


def _frames(look: int = 0, label: str = "happiness", n: int = 9) -> list[np.ndarray]:
    return render_clip(Look.for_subject(look), label, n, 4, 3.0, FRAME_SIZE)


def _align(tmp_path, landmarker, frames, options=OPTIONS, clip="EP01"):
    row = clip_row(tmp_path, "sub01", clip, frames=frames)
    return align_clip(clip_to_align(pd.Series(row)), options, landmarker)


def test_ordinary_clip_is_ok(tmp_path, landmarker):
    result = _align(tmp_path, landmarker, _frames())
    assert (result.verdict.status, result.verdict.reasons) == ("ok", ())
    assert result.detect_frame == 100
    assert sorted(result.images) == [
        "e0.jpg",
        "e1.jpg",
        "e2.jpg",
        "e3.jpg",
        "e4.jpg",
        "neutral.jpg",
    ]


def test_no_face_rejects(tmp_path, landmarker):
    blank = [np.full((FRAME_SIZE[1], FRAME_SIZE[0], 3), 128, np.uint8)] * 9
    result = _align(tmp_path, landmarker, blank)
    assert result.verdict.status == "rejected"
    assert "no face found on frame 100" in result.verdict.reasons[0]
    assert "frame 104" in result.verdict.reasons[0]  # five frames were tried
    assert result.images == {}


def test_face_missing_on_neutral_is_found_on_the_next_frame(tmp_path, landmarker):
    frames = _frames()
    frames[0] = np.zeros_like(frames[0])
    result = _align(tmp_path, landmarker, frames)
    assert result.verdict.status == "flagged"
    assert result.detect_frame == 101
    assert "face found on frame 101, not on the neutral 100" in result.verdict.reasons


def test_several_faces_reject(tmp_path, landmarker):
    pair = [
        np.ascontiguousarray(
            np.hstack([render_frame(Look.for_subject(s), (), 0, FRAME_SIZE) for s in (1, 2)])
        )
    ] * 9
    result = _align(tmp_path, landmarker, pair)
    assert result.verdict.status == "rejected"
    assert result.verdict.reasons[0].startswith("2 faces on frame 100 (besides the main face: 1.0")


def test_a_second_smaller_person_rejects(tmp_path, landmarker):
    """The demo's second person, half the subject's size, beside the subject."""
    frames = render_clip(
        Look.for_subject(3), "happiness", 9, 4, 3.0, FRAME_SIZE, second_person=True
    )
    result = _align(tmp_path, landmarker, frames)
    assert result.verdict.status == "rejected"
    reason = result.verdict.reasons[0]
    assert reason.startswith("2 faces on frame 100 (besides the main face: 0.")
    width = float(reason.split(": ")[1].split(" ")[0])  # the other face's relative width
    assert 0.4 < width < 0.75
    # Counting only people at least as wide as the main face lets the clip through.
    tolerant = replace(OPTIONS, thresholds=Thresholds(other_face_size=1.0))
    assert _align(tmp_path, landmarker, frames, tolerant, "EP02").verdict.status == "ok"


@pytest.mark.parametrize("look", [122, 201])
def test_a_face_printed_on_the_clothes_is_not_a_second_face(tmp_path, landmarker, look):
    """The demo face's suit carries a faint cartoon face. For these looks FaceMesh, with its
    low detection threshold, returns it as a second face (so counting FaceMesh's faces
    rejected the clip); the full-range detector does not find it, and the clip is kept."""
    frames = render_clip(Look.for_subject(look), "happiness", 9, 4, 3.0, (320, 240))
    assert len(landmarker.detect(frames[0]).faces) == 2
    result = _align(tmp_path, landmarker, frames)
    assert (result.verdict.status, result.verdict.reasons) == ("ok", ())


def test_low_confidence_rejects(tmp_path, landmarker):
    strict = replace(OPTIONS, thresholds=Thresholds(min_confidence=0.99))
    result = _align(tmp_path, landmarker, _frames(), options=strict)
    assert result.verdict.status == "rejected"
    assert "face detector confidence 0.9" in result.verdict.reasons[0]
    assert "below 0.99 on frame 100" in result.verdict.reasons[0]


def test_head_turned_too_far_rejects_or_flags(tmp_path, landmarker):
    look = Look.for_subject(0)
    truth = landmarks_in_frame(look, FRAME_SIZE)
    eyes = (truth["eye_r"], truth["eye_l"])
    frontal = _frames()
    turned = [turn_head(frame, eyes, 40) for frame in frontal]
    thresholds = Thresholds(flag_yaw=5, max_yaw=12)
    options = replace(OPTIONS, thresholds=thresholds)
    ok = _align(tmp_path, landmarker, frontal, options, "frontal")
    rejected = _align(tmp_path, landmarker, turned, options, "turned")
    assert ok.verdict.status == "ok"
    assert rejected.verdict.status == "rejected"
    assert any("head turned" in r and "max 12" in r for r in rejected.verdict.reasons)
    flagging = replace(OPTIONS, thresholds=Thresholds(flag_yaw=5, max_yaw=60))
    flagged = _align(tmp_path, landmarker, turned, flagging, "turned2")
    assert flagged.verdict.status == "flagged"


def test_clip_that_moved_rejects_and_small_move_flags(tmp_path, landmarker):
    """The camera (or head) moved between neutral and apex: landmarks moved as a whole."""
    frames = _frames()
    interocular = 0.18 * FRAME_SIZE[1]  # roughly, for this look
    far = frames[:3] + [shifted(f, 0.3 * interocular) for f in frames[3:]]
    near = frames[:3] + [shifted(f, 0.1 * interocular) for f in frames[3:]]
    moved = _align(tmp_path, landmarker, far, clip="far")
    nudged = _align(tmp_path, landmarker, near, clip="near")
    assert moved.verdict.status == "rejected"
    assert any(
        "to apex frame 104" in r and "the clip moved, not the face" in r
        for r in moved.verdict.reasons
    )
    assert nudged.verdict.status == "flagged"
    assert any("flag above 0.05" in r for r in nudged.verdict.reasons)


def test_a_macro_expression_is_not_taken_for_a_move(tmp_path, landmarker):
    """A strong surprise (brows up, jaw down) is not a move of the head, for a macro clip or
    a micro one: the still points are followed by their own pixels into the apex frame, so
    the expression does not drag them (a second FaceMesh on the apex frame read 0.13
    interocular here, and flagged the micro clip)."""
    look = Look.for_subject(0)
    frames = render_clip(look, "surprise", 9, 4, 0.3 * 0.18 * FRAME_SIZE[1], FRAME_SIZE)
    macro = clip_row(tmp_path, "S005", "001", "surprise", frames=frames)
    as_macro = align_clip(
        replace(clip_to_align(pd.Series(macro)), kind="macro"), OPTIONS, landmarker
    )
    as_micro = align_clip(clip_to_align(pd.Series(macro)), OPTIONS, landmarker)
    assert as_macro.verdict.status == "ok", as_macro.verdict.reasons
    assert as_micro.verdict.status == "ok", as_micro.verdict.reasons


def test_unreadable_frame_rejects_the_clip_not_the_run(tmp_path, landmarker):
    row = clip_row(tmp_path, "sub01", "EP01", frames=_frames())
    with open(row["frame_paths"][4], "r+b") as handle:
        handle.truncate(200)
    result = align_clip(clip_to_align(pd.Series(row)), OPTIONS, landmarker)
    assert result.verdict.status == "rejected"
    assert "cannot read frames" in result.verdict.reasons[0]
    assert "img104.png" in result.verdict.reasons[0]


def test_quality_verdicts_reach_the_manifest_and_the_shard(tmp_path):
    """Through write_shards: a rejected clip has no sample and says why; a flag is kept."""
    frames = _frames()
    blank = [np.zeros_like(frames[0])] * 9
    rows = [
        clip_row(tmp_path / "raw", "sub01", "good", frames=frames),
        clip_row(tmp_path / "raw", "sub01", "noface", frames=blank),
        clip_row(tmp_path / "raw", "sub01", "late", frames=[blank[0], *frames[1:]]),
        clip_row(
            tmp_path / "raw",
            "sub01",
            "before",
            frames=frames,
            status="rejected",
            reason="apex missing",
        ),
    ]
    run = run_shards(tmp_path / "casme2", manifest(rows), OPTIONS, workers=1, quiet=True)
    out = run.manifest.set_index("clip")
    assert (
        out.loc["good", "status"] == "ok" and out.loc["good", "shard"] == "shards/sub01-000000.tar"
    )
    assert out.loc["noface", "status"] == "rejected"
    assert out.loc["noface", "reason"].startswith("no face found on frame 100")
    assert pd.isna(out.loc["noface", "shard"]) and out.loc["noface", "members"] is None
    assert out.loc["late", "status"] == "flagged" and out.loc["late", "detect_frame"] == 101
    assert (out.loc["before", "status"], out.loc["before", "reason"]) == (
        "rejected",
        "apex missing",
    )
    assert run.clips_aligned == 3


def _detection_with(*others: Box) -> Detection:
    """A main face whose mesh spans x 100-200, y 100-220, and the finder's boxes `others`."""
    points = np.zeros((478, 3))
    points[:, 0] = np.linspace(100, 200, 478)
    points[:, 1] = np.linspace(100, 220, 478)
    main = Box(105, 110, 95, 110, score=0.9, confirmation=0.0)  # the finder's box of the main face
    return Detection((Face(points),), 0.9, (main, *others))


@pytest.mark.parametrize(
    ("other", "counted"),
    [
        (Box(300, 100, 40, 40, score=0.8, confirmation=0.9), True),  # a person at 0.4 width
        (Box(300, 100, 40, 40, score=0.45, confirmation=0.9), False),  # not confident
        (Box(300, 100, 15, 15, score=0.8, confirmation=0.9), False),  # 0.15 of the width
        (Box(150, 150, 40, 40, score=0.8, confirmation=0.9), False),  # on the main face
        (Box(180, 100, 40, 40, score=0.8, confirmation=0.9), True),  # a neighbour, half on it
        (Box(300, 100, 40, 40, score=0.8, confirmation=0.0), False),  # close-up sees no face
    ],
)
def test_each_gate_of_the_several_faces_rule(other, counted):
    thresholds = Thresholds()
    detection = _detection_with(other)
    assert other_faces(detection, thresholds) == ([other] if counted else [])
    reason = several_faces(detection, 7, thresholds)
    if counted:
        assert (
            reason
            == "2 faces on frame 7 (besides the main face: 0.40 of its width, scores 0.80/0.90)"
        )
    else:
        assert reason is None
    assert several_faces(detection, 7, Thresholds(max_faces=2)) is None


def test_only_candidates_are_confirmed():
    """The close-up detector is asked about candidates only (it costs a detector call)."""
    asked = []
    person = Box(300, 100, 40, 40, score=0.8)
    faint = Box(300, 200, 40, 40, score=0.4)
    detection = confirm_candidates(
        _detection_with(person, faint), Thresholds(), lambda box: asked.append(box) or 0.7
    )
    assert asked == [person]
    assert [b.confirmation for b in detection.found[1:]] == [0.7, 0.0]
