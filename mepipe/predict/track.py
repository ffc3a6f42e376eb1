"""Find and follow the face through the footage, and align every frame for the signal.

Ingest fits one transform per clip on its neutral frame, because re-fitting on every frame
adds jitter of the size of a micro-expression (docs/alignment.md). A video has no clips, so
it is cut into alignment windows: FaceMesh runs on a window's first frame, the transform
fitted there aligns every frame of the window, and the window ends when the head has moved
more than `refresh` interocular distances from where it was (followed by optical flow on the
still points of the face, mepipe.align.landmarks.track_still_points, a few ms a frame), when
the face is lost, or at a frame without a face. Such frames are gaps in the timeline.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass

import cv2
import numpy as np

from mepipe.align.landmarks import Face, Landmarker, track_still_points
from mepipe.align.quality import head_motion
from mepipe.align.transform import fit_similarity, template, warp
from mepipe.spot import ANALYSIS_SIZE
from mepipe.video import Footage

FrameHook = Callable[[int], None]


@dataclass
class Window:
    """Frames `start`..`end` (inclusive), aligned by the face FaceMesh found on `start`."""

    start: int
    end: int
    five: tuple[tuple[float, float], ...]  # the five alignment points on frame `start`

    def matrix(self, size: int) -> np.ndarray:
        """The 2x3 transform onto the `size` template (mepipe.align.transform)."""
        return fit_similarity(np.asarray(self.five, float), template(size))


@dataclass
class Tracking:
    """The face through the footage: grey analysis crops, and which window holds each frame."""

    crops: np.ndarray  # (n, ANALYSIS_SIZE, ANALYSIS_SIZE) uint8, zeros where no face
    window_of: np.ndarray  # (n,) int: index into `windows`, -1 where no face
    windows: list[Window]

    def gaps(self) -> list[tuple[int, int]]:
        """Runs of frames without a face, (first, last) inclusive."""
        runs: list[tuple[int, int]] = []
        for index in np.flatnonzero(self.window_of < 0):
            if runs and runs[-1][1] == index - 1:
                runs[-1] = (runs[-1][0], int(index))
            else:
                runs.append((int(index), int(index)))
        return runs

    def window(self, frame: int) -> Window | None:
        number = int(self.window_of[frame])
        return self.windows[number] if number >= 0 else None


def track_face(
    footage: Footage, landmarker: Landmarker, refresh: float, on_frame: FrameHook | None = None
) -> Tracking:
    """Windows and analysis crops of every frame of `footage` (streamed, one frame held)."""
    n = footage.count
    crops = np.zeros((n, ANALYSIS_SIZE, ANALYSIS_SIZE), np.uint8)
    window_of = np.full(n, -1, int)
    windows: list[Window] = []
    reference: tuple[np.ndarray, Face] | None = None
    matrix = np.eye(2, 3)

    def start_window(index: int, frame: np.ndarray) -> bool:
        nonlocal reference, matrix
        face = landmarker.detect(frame).face
        if face is None:
            reference = None
            return False
        reference = (frame, face)
        windows.append(Window(index, index, tuple(map(tuple, face.five().tolist()))))
        matrix = windows[-1].matrix(ANALYSIS_SIZE)
        return True

    for index, frame in footage.frames():
        if reference is None:
            found = start_window(index, frame)
        else:
            followed = track_still_points(reference[0], frame, reference[1]).face
            if followed is None or head_motion(reference[1], followed) > refresh:
                found = start_window(index, frame)
            else:
                found = True
        if found:
            window_of[index] = len(windows) - 1
            windows[-1].end = index
            aligned = warp(frame, matrix, ANALYSIS_SIZE)
            crops[index] = cv2.cvtColor(aligned, cv2.COLOR_RGB2GRAY)
        if on_frame:
            on_frame(index)
    return Tracking(crops, window_of, windows)
