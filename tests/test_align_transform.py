"""Alignment accuracy: the similarity fit, the warp, and FaceMesh + fit on the demo face."""

from __future__ import annotations

import math

import cv2
import numpy as np
import pytest

from mepipe.align.landmarks import Landmarker
from mepipe.align.transform import apply, fit_similarity, template, warp
from mepipe.demo.face import Look, landmarks_in_frame, render_frame

SIZE = 224


@pytest.fixture(scope="module")
def landmarker():
    with Landmarker() as found:
        yield found


def _similarity(angle: float, scale: float, shift: tuple[float, float], centre) -> np.ndarray:
    matrix = cv2.getRotationMatrix2D(centre, angle, scale)
    matrix[:, 2] += shift
    return matrix


def test_fit_recovers_an_exact_similarity_whatever_the_weights():
    rng = np.random.default_rng(0)
    src = rng.uniform(0, 100, size=(5, 2))
    known = _similarity(23.0, 1.7, (12.0, -30.0), (50.0, 50.0))
    for weights in ([1, 1, 1, 1, 1], [20, 20, 1, 1, 1]):
        np.testing.assert_allclose(fit_similarity(src, apply(known, src), weights), known)


def test_fit_weights_pull_the_eyes_onto_the_template():
    target = template(SIZE)
    src = target.copy()
    src[3:] += (0, -12)  # a face whose mouth sits higher than the template's
    equal = apply(fit_similarity(src, target, [1, 1, 1, 1, 1]), src)
    weighted = apply(fit_similarity(src, target), src)
    eye_error = lambda points: np.linalg.norm(points[:2] - target[:2], axis=1).max()  # noqa: E731
    assert eye_error(weighted) < 1.0 and eye_error(equal) > 3 * eye_error(weighted)


def test_warp_of_a_large_frame_keeps_geometry():
    """A 2000-pixel frame shrunk 15x (pre-shrunk with area averaging) puts a point where the
    matrix says."""
    frame = np.zeros((1000, 2000, 3), np.uint8)
    cv2.circle(frame, (1500, 400), 30, (255, 255, 255), -1)
    matrix = _similarity(10.0, 1 / 15, (0.0, 0.0), (0.0, 0.0))
    out = warp(frame, matrix, 160)
    ys, xs = np.nonzero(out[..., 0] > 127)
    expected = apply(matrix, np.array([[1500.0, 400.0]]))[0]
    assert math.dist((xs.mean(), ys.mean()), expected) < 0.6


@pytest.mark.parametrize(
    ("angle", "scale", "shift"),
    [(0.0, 1.0, (0.0, 0.0)), (17.0, 0.8, (25.0, -10.0)), (-25.0, 1.3, (-30.0, 15.0))],
)
def test_eye_centres_within_2px_of_template_after_known_warp(landmarker, angle, scale, shift):
    """Warp the demo face by a known rotation, scale and shift; after alignment at 224 the
    true eye centres lie within 2 px of the template's."""
    size = (320, 240)
    look = Look(scale=0.17, angle=4.0, shift=(0.0, 0.0), brightness=1.0, tint=(1, 1, 1))
    base = render_frame(look, (), 0.0, size)
    known = _similarity(angle, scale, shift, (size[0] / 2, size[1] / 2))
    frame = cv2.warpAffine(base, known, size, borderMode=cv2.BORDER_REFLECT)
    truth = landmarks_in_frame(look, size)
    eyes = apply(known, np.array([truth["eye_r"], truth["eye_l"]]))

    face = landmarker.detect(frame).face
    assert face is not None
    matrix = fit_similarity(face.five(), template(SIZE))
    errors = np.linalg.norm(apply(matrix, eyes) - template(SIZE)[:2], axis=1)
    assert errors.max() < 2.0, errors
    # and the fit undid the rotation: the eye line is level again
    aligned = apply(matrix, eyes)
    tilt = math.degrees(math.atan2(*(aligned[1] - aligned[0])[::-1]))
    assert abs(tilt) < 1.0


def test_grayscale_source_aligns_like_colour(landmarker):
    """SAMM and CK+ are grayscale: expanded to three channels, the face is found as well."""
    look = Look.for_subject(2)
    gray = render_frame(look, (), 0.0, (320, 240), gray=True)
    face = landmarker.detect(np.repeat(gray[..., None], 3, axis=2)).face
    assert face is not None
    truth = landmarks_in_frame(look, (320, 240))
    assert math.dist(face.five()[0], truth["eye_r"]) < 1.5
