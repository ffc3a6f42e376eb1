"""A real face, animated: the demo data's frames.

The face is `skimage.data.astronaut()` (public-domain NASA photo). Expressions are
landmark-driven warps: each motion pushes named facial landmarks (measured once with
mediapipe FaceMesh 0.10.21 on that photo) along a direction, with a Gaussian fall-off, so
the generator knows exactly where and how far every pixel moved. Micro clips move a few
pixels, macro clips many; the motion depends on the label, so a model can learn it.
Subjects differ by scale, rotation, position, crop and brightness.

Two confounders of the several-faces check (docs/alignment.md) are part of the demo: a faint
cartoon face printed on the suit's shoulder, half the face's width, which mediapipe FaceMesh
with a low detection threshold takes for a second face on some looks (2 in 100 measured, the
demo SMIC subject s1 among them: ingest must keep those clips), and, on request, a second,
smaller person beside the subject (ingest must reject that clip).
"""

from __future__ import annotations

import functools
import math
from dataclasses import dataclass

import cv2
import numpy as np

# FaceMesh landmarks of the astronaut photo, (x, y) in its 512x512 pixels. Image-left is
# the subject's right side.
LANDMARKS: dict[str, tuple[float, float]] = {
    "eye_r": (203.5, 101.1),  # iris centre, mesh 468
    "eye_l": (246.6, 103.5),  # iris centre, mesh 473
    "nose_tip": (223.4, 130.0),  # 1
    "mouth_r": (201.8, 139.2),  # 61
    "mouth_l": (245.0, 141.0),  # 291
    "upper_lip": (223.6, 140.5),  # 0
    "lower_lip": (222.7, 154.6),  # 17
    "chin": (221.3, 177.4),  # 152
    "brow_inner_r": (215.9, 89.8),  # 107
    "brow_inner_l": (235.8, 91.5),  # 336
    "brow_mid_r": (198.8, 86.9),  # 105
    "brow_mid_l": (253.0, 90.7),  # 334
    "nose_wing_r": (209.5, 125.2),  # 48
    "nose_wing_l": (238.3, 126.8),  # 278
    "lid_lower_r": (203.4, 104.3),  # 145
    "lid_lower_l": (246.6, 106.7),  # 374
    "cheek_r": (194.9, 124.6),  # 205
    "cheek_l": (253.2, 128.0),  # 425
}
INTEROCULAR = math.dist(LANDMARKS["eye_r"], LANDMARKS["eye_l"])  # ~43 px in the photo

# Each motion: (landmark, direction (dx, dy) in units of the clip's amplitude). The names
# follow the FACS action units they imitate.
MOTIONS: dict[str, tuple[tuple[str, tuple[float, float]], ...]] = {
    "brow_lower": (("brow_inner_r", (0.5, 0.85)), ("brow_inner_l", (-0.5, 0.85))),  # AU4
    "brow_raise": tuple(
        (p, (0.0, -1.0)) for p in ("brow_inner_r", "brow_inner_l", "brow_mid_r", "brow_mid_l")
    ),
    "smile": (
        ("mouth_r", (-0.6, -0.8)),
        ("mouth_l", (0.6, -0.8)),
        ("cheek_r", (0, -0.5)),
        ("cheek_l", (0, -0.5)),
    ),
    "jaw_drop": (("lower_lip", (0.0, 1.0)), ("chin", (0.0, 0.9))),  # AU26
    "nose_wrinkle": (
        ("upper_lip", (0.0, -0.8)),
        ("nose_wing_r", (0, -0.6)),
        ("nose_wing_l", (0, -0.6)),
    ),  # AU9/10
    "lip_press": (("upper_lip", (0.0, 0.6)), ("lower_lip", (0.0, -0.8))),  # AU24
    "lip_depress": (("mouth_r", (0.0, 1.0)), ("mouth_l", (0.0, 1.0))),  # AU15
    "half_smile": (("mouth_l", (0.6, -0.8)),),  # R12/AU14
    "lip_stretch": (("mouth_r", (-1.0, 0.1)), ("mouth_l", (1.0, 0.1))),  # AU20
    "lid_tighten": (("lid_lower_r", (0.0, -0.7)), ("lid_lower_l", (0.0, -0.7))),  # AU7
}

# Which motions each emotion label shows in the demo data (all releases' vocabularies).
EMOTION_MOTIONS: dict[str, tuple[str, ...]] = {
    "happiness": ("smile",),
    "positive": ("smile",),
    "surprise": ("brow_raise", "jaw_drop"),
    "anger": ("brow_lower", "lip_press"),
    "negative": ("brow_lower",),
    "disgust": ("nose_wrinkle", "brow_lower"),
    "repression": ("lip_press",),
    "sadness": ("lip_depress", "brow_lower"),
    "fear": ("lip_stretch", "brow_raise"),
    "contempt": ("half_smile",),
    "others": ("lid_tighten",),
}


# The printed face on the suit: centre and width in photo pixels, and how strongly it shows.
STICKER_CENTRE = (135, 190)
STICKER_WIDTH = 50
STICKER_OPACITY = 0.45
# The second person: a copy of the subject's head and shoulders (this part of the photo),
# mirrored, at this fraction of the subject's size, its face centred at this point of the
# frame (fractions of width and height), clear of the subject's face for every Look.
SECOND_PERSON_CROP = (140, 10, 310, 250)  # x0, y0, x1, y1
SECOND_PERSON_SCALE = 0.5
SECOND_PERSON_AT = (0.86, 0.3)


@functools.cache
def astronaut() -> np.ndarray:
    """The source photo, RGB uint8 512x512, with the printed face on the suit (imported
    lazily: scikit-image is slow to load)."""
    from skimage import data

    photo = np.ascontiguousarray(data.astronaut())
    _print_sticker(photo, STICKER_CENTRE, STICKER_WIDTH, STICKER_OPACITY)
    photo.setflags(write=False)
    return photo


def _print_sticker(photo: np.ndarray, centre: tuple[int, int], width: int, opacity: float) -> None:
    """Blend a cartoon face (skin-toned oval, eyes, brows, nose, mouth) into `photo` in place.

    Faint on purpose, like the print on clothing that fooled the several-faces check of
    mepipe 0.x: FaceMesh's face detector, run with a low threshold, scores it 0.2-0.5 on
    some framings, while the full-range detector does not report it. (At opacity 0.55 both
    detectors take it for a face on one look in ten: a clear print of a face is a face.)
    """
    height = round(width * 1.25)
    s = 4  # drawn 4x larger, then shrunk: smooth edges
    big_w, big_h = width * s, height * s
    tile = np.full((big_h, big_w, 3), (225, 180, 150), np.uint8)
    mask = np.zeros((big_h, big_w), np.uint8)
    cv2.ellipse(
        mask, (big_w // 2, big_h // 2), (big_w // 2 - s, big_h // 2 - s), 0, 0, 360, 255, -1
    )
    eye_dx, eye_y, iris = int(big_w * 0.2), int(big_h * 0.40), max(2, int(big_w * 0.08))
    for x in (big_w // 2 - eye_dx, big_w // 2 + eye_dx):
        cv2.ellipse(tile, (x, eye_y), (int(iris * 1.6), iris), 0, 0, 360, (245, 245, 245), -1)
        cv2.circle(tile, (x, eye_y), iris, (60, 40, 30), -1)
        brow = (
            (x - int(iris * 1.8), eye_y - int(iris * 2.2)),
            (x + int(iris * 1.8), eye_y - int(iris * 2.6)),
        )
        cv2.line(tile, *brow, (90, 60, 40), s)
    nose = ((big_w // 2, int(big_h * 0.45)), (big_w // 2 - int(big_w * 0.05), int(big_h * 0.62)))
    cv2.line(tile, *nose, (170, 120, 100), s)
    mouth_axes = (int(big_w * 0.18), int(big_h * 0.06))
    cv2.ellipse(tile, (big_w // 2, int(big_h * 0.72)), mouth_axes, 0, 0, 180, (150, 60, 60), 2 * s)
    small = cv2.resize(tile, (width, height), interpolation=cv2.INTER_AREA).astype(np.float32)
    alpha = cv2.resize(mask, (width, height), interpolation=cv2.INTER_AREA).astype(np.float32)
    alpha = alpha[..., None] / 255 * opacity
    x0, y0 = centre[0] - width // 2, centre[1] - height // 2
    region = photo[y0 : y0 + height, x0 : x0 + width].astype(np.float32)
    blended = region * (1 - alpha) + small * alpha
    photo[y0 : y0 + height, x0 : x0 + width] = np.clip(blended, 0, 255).astype(np.uint8)


@dataclass(frozen=True)
class Look:
    """How one demo subject differs from another: framing, pose and exposure."""

    scale: float  # interocular distance as a fraction of the frame's shorter side
    angle: float  # in-plane rotation, degrees
    shift: tuple[float, float]  # face centre offset, fraction of frame size
    brightness: float  # multiplicative gain
    tint: tuple[float, float, float]  # per-channel gain, so subjects differ in colour

    @classmethod
    def for_subject(cls, index: int) -> Look:
        """A distinct, reproducible look for subject number `index`."""
        rng = np.random.default_rng(1000 + index)
        return cls(
            scale=float(rng.uniform(0.16, 0.22)),
            angle=float(rng.uniform(-12, 12)),
            shift=(float(rng.uniform(-0.06, 0.06)), float(rng.uniform(-0.05, 0.05))),
            brightness=float(rng.uniform(0.75, 1.2)),
            tint=tuple(float(v) for v in rng.uniform(0.85, 1.15, size=3)),
        )


def placement(look: Look, size: tuple[int, int]) -> np.ndarray:
    """2x3 similarity matrix from photo pixels to frame pixels for this look and frame size."""
    width, height = size
    scale = look.scale * min(width, height) / INTEROCULAR
    (xr, yr), (xl, yl) = LANDMARKS["eye_r"], LANDMARKS["eye_l"]
    eyes_mid = np.array([(xr + xl) / 2, (yr + yl) / 2 + 0.5 * INTEROCULAR])  # face centre
    target = np.array([width * (0.5 + look.shift[0]), height * (0.5 + look.shift[1])])
    matrix = cv2.getRotationMatrix2D((float(eyes_mid[0]), float(eyes_mid[1])), look.angle, scale)
    matrix[:, 2] += target - eyes_mid
    return matrix


@functools.cache
def unit_field(motions: tuple[str, ...]) -> np.ndarray:
    """Per-pixel displacement (dx, dy stacked last) of the photo for `motions` at amount 1.

    The field is linear in the amount, so one is computed per motion set and scaled.
    """
    height, width = astronaut().shape[:2]
    ys, xs = np.mgrid[0:height, 0:width].astype(np.float32)
    field = np.zeros((height, width, 2), np.float32)
    sigma = 0.3 * INTEROCULAR
    for motion in motions:
        for name, (dx, dy) in MOTIONS[motion]:
            px, py = LANDMARKS[name]
            weight = np.exp(-((xs - px) ** 2 + (ys - py) ** 2) / (2 * sigma**2))
            field[..., 0] += dx * weight
            field[..., 1] += dy * weight
    field.setflags(write=False)
    return field


def render_frame(
    look: Look,
    motions: tuple[str, ...],
    amount: float,
    size: tuple[int, int],
    gray: bool = False,
    second_person: bool = False,
) -> np.ndarray:
    """One frame of `size` (width, height): the face placed by `look`, warped by `motions`.

    `amount` is the displacement of the moving landmarks in *frame* pixels. With
    `second_person`, a smaller, still second person stands beside the subject.
    """
    src = astronaut()
    matrix = placement(look, size)
    scale = math.hypot(matrix[0, 0], matrix[0, 1])
    width, height = size
    # Frame pixel -> photo pixel, then undo the motion (backward warp, first order).
    inverse = cv2.invertAffineTransform(matrix)
    ys, xs = np.mgrid[0:height, 0:width].astype(np.float32)
    map_x = inverse[0, 0] * xs + inverse[0, 1] * ys + inverse[0, 2]
    map_y = inverse[1, 0] * xs + inverse[1, 1] * ys + inverse[1, 2]
    # cv2.remap wants float32 maps; numpy 2 keeps the matrix's float64 (numpy 1 did not).
    map_x, map_y = map_x.astype(np.float32), map_y.astype(np.float32)
    if amount:
        field = unit_field(motions)
        dx = cv2.remap(field[..., 0], map_x, map_y, cv2.INTER_LINEAR)
        dy = cv2.remap(field[..., 1], map_x, map_y, cv2.INTER_LINEAR)
        map_x, map_y = (
            map_x - dx * np.float32(amount / scale),
            map_y - dy * np.float32(amount / scale),
        )
    frame = cv2.remap(src, map_x, map_y, cv2.INTER_LINEAR, borderMode=cv2.BORDER_REFLECT)
    if second_person:
        frame = _add_second_person(frame, scale * SECOND_PERSON_SCALE)
    gain = look.brightness * np.array(look.tint, np.float32)
    frame = np.clip(frame.astype(np.float32) * gain, 0, 255).astype(np.uint8)
    if gray:
        return cv2.cvtColor(frame, cv2.COLOR_RGB2GRAY)
    return frame


def _add_second_person(frame: np.ndarray, scale: float) -> np.ndarray:
    """`frame` with the photo's head and shoulders pasted in, mirrored and scaled by `scale`
    (photo to frame pixels), its face centred at SECOND_PERSON_AT, edges feathered."""
    height, width = frame.shape[:2]
    x0, y0, x1, y1 = SECOND_PERSON_CROP
    (xr, yr), (xl, yl) = LANDMARKS["eye_r"], LANDMARKS["eye_l"]
    face = ((xr + xl) / 2, (yr + yl) / 2 + 0.5 * INTEROCULAR)  # photo pixels
    target = (SECOND_PERSON_AT[0] * width, SECOND_PERSON_AT[1] * height)
    # Photo -> frame: mirror x about the face centre, scale, move the face to the target.
    matrix = np.array(
        [[-scale, 0, target[0] + scale * face[0]], [0, scale, target[1] - scale * face[1]]]
    )
    photo = astronaut()
    mask = np.zeros(photo.shape[:2], np.float32)
    centre, axes = ((x0 + x1) // 2, (y0 + y1) // 2), ((x1 - x0) // 2, (y1 - y0) // 2)
    cv2.ellipse(mask, centre, axes, 0, 0, 360, 1.0, -1)
    mask = cv2.GaussianBlur(mask, (0, 0), 8)
    person = cv2.warpAffine(photo, matrix, (width, height), flags=cv2.INTER_AREA)
    alpha = cv2.warpAffine(mask, matrix, (width, height), flags=cv2.INTER_LINEAR)[..., None]
    blended = frame.astype(np.float32) * (1 - alpha) + person.astype(np.float32) * alpha
    return np.clip(blended, 0, 255).astype(np.uint8)


def motion_curve(n_frames: int, apex_index: int, amplitude: float) -> list[float]:
    """Displacement of each frame: 0 at the first and last frame, `amplitude` at the apex."""
    amounts = []
    last = n_frames - 1
    for i in range(n_frames):
        if i <= apex_index:
            t = i / apex_index if apex_index else 1.0
            amounts.append(amplitude * math.sin(math.pi / 2 * t))
        else:
            t = (i - apex_index) / (last - apex_index)
            amounts.append(amplitude * math.cos(math.pi / 2 * t))
    return amounts


def render_clip(
    look: Look,
    label: str,
    n_frames: int,
    apex_index: int,
    amplitude: float,
    size: tuple[int, int],
    gray: bool = False,
    second_person: bool = False,
) -> list[np.ndarray]:
    """Frames of one clip: neutral at frame 0, the label's motion peaking at `apex_index`.

    Sequences that end at the peak (CK+, Oulu) pass apex_index = n_frames - 1.
    """
    motions = EMOTION_MOTIONS[label]
    return [
        render_frame(look, motions, a, size, gray, second_person)
        for a in motion_curve(n_frames, apex_index, amplitude)
    ]


def landmarks_in_frame(look: Look, size: tuple[int, int]) -> dict[str, tuple[float, float]]:
    """Where each named landmark of the neutral face lies in a frame (ground truth for tests)."""
    matrix = placement(look, size)
    return {
        name: (
            float(matrix[0, 0] * x + matrix[0, 1] * y + matrix[0, 2]),
            float(matrix[1, 0] * x + matrix[1, 1] * y + matrix[1, 2]),
        )
        for name, (x, y) in LANDMARKS.items()
    }
