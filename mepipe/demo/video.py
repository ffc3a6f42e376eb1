"""A demo video for `mepipe predict`: the demo face, steady, with expressions at known frames.

The face is the animated photograph of mepipe.demo.face; each event warps it along its
label's motions with the micro clips' rise and fall (`motion_curve`). Light sensor noise
is added to every frame, as any camera has, so that a steady stretch is not perfectly
still. Written as an mp4 (mp4v, OpenCV's bundled encoder) or, for any other name, as a
folder of numbered PNG frames. The events are the ground truth of tests and of the demo.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

import cv2
import numpy as np

from mepipe.atomic import atomic_path
from mepipe.demo.face import EMOTION_MOTIONS, Look, motion_curve, render_frame


@dataclass(frozen=True)
class Event:
    """One expression: `label`'s motions rise from `onset`, peak at `apex`, end at `offset`."""

    label: str
    onset: int
    apex: int
    offset: int
    amplitude: float  # displacement of the moving landmarks at the apex, frame pixels


DEMO_EVENTS = (
    Event("happiness", 40, 46, 52, 3.0),  # 13 frames: 0.43 s at 30 fps, a micro-expression
    Event("surprise", 100, 112, 124, 6.0),  # 25 frames: 0.83 s, a macro-expression
)


def demo_video_frames(
    n_frames: int = 150,
    events: tuple[Event, ...] = DEMO_EVENTS,
    size: tuple[int, int] = (320, 240),
    subject: int = 7,
    noise: float = 1.5,
    seed: int = 0,
) -> list[np.ndarray]:
    """The RGB frames of a demo video."""
    look = Look.for_subject(subject)
    amounts: dict[int, tuple[str, float]] = {}
    for event in events:
        curve = motion_curve(
            event.offset - event.onset + 1, event.apex - event.onset, event.amplitude
        )
        for i, amount in enumerate(curve):
            amounts[event.onset + i] = (event.label, amount)
    rng = np.random.default_rng(seed)
    frames = []
    for index in range(n_frames):
        label, amount = amounts.get(index, ("happiness", 0.0))
        frame = render_frame(look, EMOTION_MOTIONS[label], amount, size).astype(np.float32)
        frame += rng.normal(0.0, noise, frame.shape).astype(np.float32)
        frames.append(np.clip(frame, 0, 255).astype(np.uint8))
    return frames


def write_video(path: str | Path, frames: list[np.ndarray], fps: float = 30.0) -> Path:
    """`frames` as an mp4 (name ending .mp4) or a folder of `frame_NNNNN.png`, atomically."""
    path = Path(path)
    if path.suffix.lower() == ".mp4":
        height, width = frames[0].shape[:2]
        with atomic_path(path, suffix=".mp4") as tmp:
            writer = cv2.VideoWriter(
                str(tmp), cv2.VideoWriter_fourcc(*"mp4v"), fps, (width, height)
            )
            for frame in frames:
                writer.write(cv2.cvtColor(frame, cv2.COLOR_RGB2BGR))
            writer.release()
        return path
    path.mkdir(parents=True, exist_ok=True)
    for index, frame in enumerate(frames):
        with atomic_path(path / f"frame_{index:05d}.png", suffix=".png") as tmp:
            cv2.imwrite(str(tmp), cv2.cvtColor(frame, cv2.COLOR_RGB2BGR))
    return path
