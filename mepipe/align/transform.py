"""The similarity transform that puts a face on the canonical template, and the warp.

One transform per clip, fitted on the neutral frame and applied to every selected frame:
a micro-expression moves a few pixels, and re-fitting on each frame would add jitter of
that size (see docs/alignment.md).
"""

from __future__ import annotations

import math
from collections.abc import Sequence

import cv2
import numpy as np

# The five alignment points of mediapipe's canonical face model
# (mediapipe/modules/face_geometry/data/canonical_face_model.obj, Apache-2.0), x right and
# y down, in the model's centimetres: eye centres (midpoint of the corners 33/133 and
# 362/263; the model has no iris points), nose tip (1), mouth corners (61, 291).
CANONICAL_FIVE = np.array(
    [
        [-3.151146, -2.624618],
        [3.151146, -2.624618],
        [0.0, 1.126865],
        [-2.456206, 4.342621],
        [2.456206, 4.342621],
    ]
)
# Where the face sits in the output square: the interocular distance is this fraction of
# the side and the eye line this far down. Then the forehead top (model vertex 10) lands
# at about 0.12 and the chin (152) at about 0.90, with room for a dropped jaw.
TEMPLATE_INTEROCULAR = 0.28
TEMPLATE_EYE_LINE = 0.37
# Weights of the five points in the fit. The eyes are rigid and FaceMesh places them most
# precisely; nose and mouth vary much more between people (and the mouth with expression),
# so they only steady the fit. With equal weights a smiling face lands its eyes 4-5 px
# off the template at 224; with these, within about 1 px.
FIT_WEIGHTS = np.array([20.0, 20.0, 1.0, 1.0, 1.0])


def template(size: int) -> np.ndarray:
    """The five template points, (5, 2), in pixels of a `size` x `size` output."""
    model = CANONICAL_FIVE / (CANONICAL_FIVE[1, 0] - CANONICAL_FIVE[0, 0])
    eyes_mid = model[:2].mean(axis=0)
    unit = (model - eyes_mid) * TEMPLATE_INTEROCULAR + (0.5, TEMPLATE_EYE_LINE)
    return unit * size


def fit_similarity(
    src: np.ndarray, dst: np.ndarray, weights: Sequence[float] | np.ndarray = FIT_WEIGHTS
) -> np.ndarray:
    """Weighted least-squares similarity (rotation, uniform scale, shift) from src to dst.

    Closed form (Umeyama without reflection), written with complex numbers: a similarity
    is z -> a z + b. scikit-image's SimilarityTransform solves the unweighted case only.
    Returns the 2x3 matrix that cv2.warpAffine takes.
    """
    w = np.asarray(weights, float)
    w = w / w.sum()
    src_c = src[:, 0] + 1j * src[:, 1]
    dst_c = dst[:, 0] + 1j * dst[:, 1]
    src_mean, dst_mean = (w * src_c).sum(), (w * dst_c).sum()
    s, d = src_c - src_mean, dst_c - dst_mean
    a = (w * np.conj(s) * d).sum() / (w * np.abs(s) ** 2).sum()
    b = dst_mean - a * src_mean
    return np.array([[a.real, -a.imag, b.real], [a.imag, a.real, b.imag]])


def apply(matrix: np.ndarray, points: np.ndarray) -> np.ndarray:
    """Map (N, 2) points through a 2x3 matrix."""
    return points @ matrix[:, :2].T + matrix[:, 2]


def scale_of(matrix: np.ndarray) -> float:
    return math.hypot(matrix[0, 0], matrix[1, 0])


def warp(image: np.ndarray, matrix: np.ndarray, size: int) -> np.ndarray:
    """The `size` x `size` aligned crop of `image` under `matrix`.

    Strong downscaling (SAMM's 2040-pixel frames) with bilinear sampling aliases, so the
    image is first shrunk with area averaging to about the target scale.
    """
    scale = scale_of(matrix)
    if scale < 0.5:
        factor = 0.5 / scale  # leave a factor of 2 for warpAffine to do
        height, width = image.shape[:2]
        small = (max(1, round(width / factor)), max(1, round(height / factor)))
        image = cv2.resize(image, small, interpolation=cv2.INTER_AREA)
        fx, fy = width / small[0], height / small[1]
        # small pixel u covers source pixels around fx * u + (fx - 1) / 2 (pixel centres)
        to_source = np.array([[fx, 0, (fx - 1) / 2], [0, fy, (fy - 1) / 2], [0, 0, 1]])
        matrix = matrix @ to_source
    return cv2.warpAffine(
        image,
        matrix,
        (size, size),
        flags=cv2.INTER_LINEAR,
        borderMode=cv2.BORDER_CONSTANT,
        borderValue=(0, 0, 0),
    )
