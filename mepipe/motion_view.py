"""Pictures of motion too small to see: the amplified frame difference and the optical flow
as colours, for the motion columns of `mepipe show` (mepipe.sheet).

A micro-expression moves a few pixels for a fraction of a second: the aligned apex frame
looks like the neutral one. These views make the motion visible:

- `amplified_difference`: (apex - neutral) x `DIFFERENCE_GAIN`, on the gray levels, around
  mid-grey (128): brighter where the apex is brighter, darker where it is darker, grey where
  nothing changed.
- `flow_colours`: the flow as a colour wheel (HSV, as in OpenCV's optical-flow tutorial and
  the Middlebury benchmark's pictures): hue = direction, saturation = magnitude, white =
  still. A flow of `scale` pixels or more is fully saturated. `colour_key` draws the wheel.
"""

from __future__ import annotations

import cv2
import numpy as np

DIFFERENCE_GAIN = 5.0
# Flow magnitudes the sheet's scale is rounded up to (pixels at the crop size).
NICE_SCALES = (0.25, 0.5, 1.0, 2.0, 5.0, 10.0, 20.0, 50.0)


def amplified_difference(
    neutral: np.ndarray, apex: np.ndarray, gain: float = DIFFERENCE_GAIN
) -> np.ndarray:
    """RGB uint8 picture of gray(apex) - gray(neutral), times `gain`, around 128."""
    a = cv2.cvtColor(neutral, cv2.COLOR_RGB2GRAY).astype(np.float32)
    b = cv2.cvtColor(apex, cv2.COLOR_RGB2GRAY).astype(np.float32)
    gray = np.clip(128 + gain * (b - a), 0, 255).astype(np.uint8)
    return np.repeat(gray[..., None], 3, axis=2)


def flow_scale(magnitudes: list[np.ndarray]) -> float:
    """One scale for a whole sheet, so rows compare: the 99th percentile of the magnitudes
    shown, rounded up to a value of NICE_SCALES."""
    if not magnitudes:
        return NICE_SCALES[0]
    peak = float(np.percentile(np.concatenate([m.ravel() for m in magnitudes]), 99))
    return next((s for s in NICE_SCALES if s >= peak), NICE_SCALES[-1])


def flow_colours(flow: np.ndarray, scale: float) -> np.ndarray:
    """RGB uint8 picture of a flow (2, H, W): hue = direction (right red, down yellow-green,
    left cyan, up violet: the angle of (u, v) in image coordinates), saturation = magnitude /
    `scale` (capped at 1), value 1."""
    u, v = flow[0].astype(np.float32), flow[1].astype(np.float32)
    magnitude, angle = cv2.cartToPolar(u, v, angleInDegrees=True)
    hsv = np.empty((*u.shape, 3), np.uint8)
    hsv[..., 0] = np.round(angle / 2).astype(np.int32) % 180  # OpenCV's hue is 0..179
    hsv[..., 1] = np.round(np.clip(magnitude / scale, 0, 1) * 255).astype(np.uint8)
    hsv[..., 2] = 255
    return cv2.cvtColor(hsv, cv2.COLOR_HSV2RGB)


def colour_key(side: int, scale: float) -> np.ndarray:
    """The colour wheel of `flow_colours` (RGB, side x side): the flow at each point is its
    offset from the centre, the rim being `scale` pixels; outside the disc is white."""
    centre = (side - 1) / 2
    ys, xs = np.mgrid[0:side, 0:side].astype(np.float32)
    flow = np.stack([(xs - centre), (ys - centre)]) * (scale / centre)
    wheel = flow_colours(flow, scale)
    outside = np.hypot(xs - centre, ys - centre) > centre
    wheel[outside] = 255
    return wheel
