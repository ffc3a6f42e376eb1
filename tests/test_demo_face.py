"""The demo face: its landmark table is where FaceMesh finds them, and motion stays local."""

import math

import numpy as np
import pytest

from mepipe.demo.face import (
    EMOTION_MOTIONS,
    Look,
    landmarks_in_frame,
    motion_curve,
    render_clip,
    render_frame,
)


def test_landmark_table_matches_facemesh_on_the_photo():
    import mediapipe as mp

    look = Look.for_subject(2)
    frame = render_frame(look, (), 0.0, (320, 240))
    with mp.solutions.face_mesh.FaceMesh(static_image_mode=True, refine_landmarks=True) as mesh:
        result = mesh.process(frame)
    points = result.multi_face_landmarks[0].landmark
    truth = landmarks_in_frame(look, (320, 240))
    for name, index in (("eye_r", 468), ("eye_l", 473), ("mouth_r", 61), ("mouth_l", 291)):
        found = (points[index].x * 320, points[index].y * 240)
        assert math.dist(found, truth[name]) < 2.0, name


def test_subjects_look_different():
    a = render_frame(Look.for_subject(0), (), 0, (160, 120))
    b = render_frame(Look.for_subject(1), (), 0, (160, 120))
    assert np.abs(a.astype(int) - b.astype(int)).mean() > 10


@pytest.mark.parametrize("label", sorted(EMOTION_MOTIONS))
def test_motion_is_local_and_peaks_at_the_apex(label):
    look = Look.for_subject(0)
    frames = render_clip(look, label, n_frames=7, apex_index=3, amplitude=8.0, size=(320, 240))
    diffs = [np.abs(f.astype(int) - frames[0].astype(int)).sum(-1) for f in frames]
    assert diffs[-1].max() <= 3  # back to neutral at the offset
    assert diffs[3].sum() == max(d.sum() for d in diffs)
    moved = diffs[3] > 20
    truth = landmarks_in_frame(look, (320, 240))
    ys, xs = np.nonzero(moved)
    assert moved.sum() > 20
    # Nothing moves far from the face: within ~2 interocular distances of the eyes' midpoint.
    centre = np.mean([truth["eye_r"], truth["eye_l"]], axis=0)
    span = math.dist(truth["eye_r"], truth["eye_l"])
    assert np.hypot(xs - centre[0], ys - centre[1]).max() < 2.2 * span


def test_motion_curve_shapes():
    curve = motion_curve(9, 4, 3.0)
    assert (
        curve[0] == 0 and curve[4] == pytest.approx(3.0) and curve[-1] == pytest.approx(0, abs=1e-9)
    )
    assert motion_curve(5, 4, 2.0)[-1] == pytest.approx(2.0)  # sequences ending at the peak
