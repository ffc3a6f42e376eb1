"""Demo clips on disk and hand-built manifests for the alignment and shard tests.

Frames come from mepipe.demo.face (the astronaut face, moved by known landmark warps), so
the tests know where the face is and what moved. No adapter is involved.
"""

from __future__ import annotations

import json
from collections.abc import Sequence
from pathlib import Path
from typing import Any

import cv2
import numpy as np
import pandas as pd

from mepipe.demo.face import EMOTION_MOTIONS, Look, render_clip

FRAME_SIZE = (240, 180)  # small frames keep FaceMesh fast; the face is still ~35 px wide
FIRST_FRAME = 100  # frame numbers are absolute, as in the real releases


def write_frames(folder: Path, frames: Sequence[np.ndarray], first: int = FIRST_FRAME) -> list[str]:
    """Write RGB (or gray) frames as img<N>.png, N from `first`; return their paths."""
    folder.mkdir(parents=True, exist_ok=True)
    paths = []
    for i, frame in enumerate(frames):
        path = folder / f"img{first + i}.png"
        image = frame if frame.ndim == 2 else cv2.cvtColor(frame, cv2.COLOR_RGB2BGR)
        cv2.imwrite(str(path), image)
        paths.append(str(path))
    return paths


def clip_row(
    root: Path,
    subject: str,
    clip: str,
    label: str = "happiness",
    look: int = 0,
    frames: Sequence[np.ndarray] | None = None,
    n_frames: int = 9,
    apex_index: int = 4,
    amplitude: float = 3.0,
    size: tuple[int, int] = FRAME_SIZE,
    database: str = "casme2",
    status: str = "ok",
    reason: str | None = None,
) -> dict[str, Any]:
    """Render (or take) a clip's frames, write them under root, return its manifest row."""
    if frames is None:
        frames = render_clip(Look.for_subject(look), label, n_frames, apex_index, amplitude, size)
    paths = write_frames(root / database / subject / clip, frames)
    numbers = [FIRST_FRAME + i for i in range(len(frames))]
    apex = FIRST_FRAME + apex_index
    start = min(max(apex_index - 2, 0), len(frames) - 5)
    return {
        "key": f"{database}__{subject}__{clip}",
        "database": database,
        "kind": "micro",
        "subject": subject,
        "clip": clip,
        "label": label,
        "frame_numbers": numbers,
        "frame_paths": paths,
        "video": None,
        "onset": numbers[0],
        "apex": apex,
        "offset": numbers[-1],
        "apex_source": "annotated",
        "fps": 200.0,
        "width": size[0],
        "height": size[1],
        "action_units": None,
        "extra": json.dumps({}),
        "neutral_frame": numbers[0],
        "expression_frames": numbers[start : start + 5],
        "status": status,
        "reason": reason,
        "label_cde": {"happiness": "positive", "surprise": "surprise"}.get(label, "negative"),
        "excluded_cde": None,
    }


def manifest(rows: Sequence[dict[str, Any]]) -> pd.DataFrame:
    return pd.DataFrame(list(rows))


def small_release(root: Path, subjects: int = 2, clips: int = 2) -> pd.DataFrame:
    """A few ordinary micro clips: `subjects` subjects with `clips` clips each."""
    labels = [label for label in EMOTION_MOTIONS if label not in ("positive", "negative")]
    rows = []
    for s in range(subjects):
        for c in range(clips):
            label = labels[(s * clips + c) % len(labels)]
            rows.append(clip_row(root, f"sub{s + 1:02d}", f"EP0{c + 1}_01", label, look=s))
    return manifest(rows)


def shard_files(db_dir: Path) -> dict[str, bytes]:
    """Every file under <db_dir>/shards, by name."""
    return {p.name: p.read_bytes() for p in sorted((db_dir / "shards").iterdir())}


def turn_head(
    frame: np.ndarray, eyes: tuple[tuple[float, float], ...], degrees: float
) -> np.ndarray:
    """The face turned about a vertical axis: the frame wrapped on a cylinder round the
    head (radius 1.3 interocular, centred between the eyes) and the cylinder rotated."""
    (xr, _), (xl, _) = eyes
    centre, radius = (xr + xl) / 2, 1.3 * abs(xl - xr)
    height, width = frame.shape[:2]
    ys, xs = np.mgrid[0:height, 0:width].astype(np.float32)
    angle = np.arcsin(np.clip((xs - centre) / radius, -1, 1)) - np.radians(degrees)
    map_x = np.where(np.abs(angle) < np.pi / 2, centre + radius * np.sin(angle), xs)
    return cv2.remap(
        frame, map_x.astype(np.float32), ys, cv2.INTER_LINEAR, borderMode=cv2.BORDER_REFLECT
    )


def shifted(frame: np.ndarray, dx: float, dy: float = 0.0) -> np.ndarray:
    """The whole frame moved by (dx, dy) pixels: the camera or the head moved, not the face."""
    matrix = np.float32([[1, 0, dx], [0, 1, dy]])
    height, width = frame.shape[:2]
    return cv2.warpAffine(frame, matrix, (width, height), borderMode=cv2.BORDER_REFLECT)
