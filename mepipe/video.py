"""A user's footage for `mepipe predict`: a video file OpenCV reads, or a folder of frames.

Bounded like the releases' frames (mepipe.images): a frame over `max_pixels` is refused from
the header before anything is decoded, and at most `max_frames` frames are read, so an hour
of 4K video cannot fill the memory or the disk. Frames are numbered from 0 in time order
(a folder's frames by the number in their names, mepipe.frames.list_frames) and come back
one at a time as RGB uint8.
"""

from __future__ import annotations

from collections.abc import Iterator, Sequence
from dataclasses import dataclass
from pathlib import Path

import cv2
import numpy as np

from mepipe.errors import MepipeError
from mepipe.frames import list_frames
from mepipe.images import MAX_FRAME_PIXELS, check_frame_size, frame_size, read_image

# 10 minutes at 30 fps, 90 s at 200 fps (CASME II): the analysis crops of mepipe.spot take
# 16 KB a frame, under 300 MB at this cap.
MAX_FRAMES = 18_000
DEFAULT_FOLDER_FPS = 30.0


@dataclass(frozen=True)
class Footage:
    """Where the frames come from and at what rate; `count` frames are read (<= max)."""

    path: str
    fps: float
    count: int
    width: int
    height: int
    frame_paths: tuple[str, ...] = ()  # a folder of frames; empty for a video file
    max_pixels: int = MAX_FRAME_PIXELS

    @property
    def is_video(self) -> bool:
        return not self.frame_paths

    def seconds(self, frame: float) -> float:
        return frame / self.fps

    def frames(self, wanted: Sequence[int] | None = None) -> Iterator[tuple[int, np.ndarray]]:
        """(index, RGB frame) for `wanted` (ascending; all when None), one at a time."""
        keep = None if wanted is None else set(wanted)
        if not self.is_video:
            for index, path in enumerate(self.frame_paths):
                if keep is None or index in keep:
                    yield index, read_image(path, self.max_pixels)
            return
        capture = cv2.VideoCapture(self.path)
        if not capture.isOpened():
            raise MepipeError("cannot open the video", self.path)
        try:
            # Read in order, never by seeking: seeking is frame-exact in few containers.
            for index in range(self.count):
                ok, frame = capture.read()
                if not ok:
                    break
                if keep is None or index in keep:
                    yield index, cv2.cvtColor(frame, cv2.COLOR_BGR2RGB)
                if keep is not None and index >= max(keep, default=-1):
                    break
        finally:
            capture.release()


def open_footage(
    path: str | Path,
    fps: float | None = None,
    max_frames: int = MAX_FRAMES,
    max_pixels: int = MAX_FRAME_PIXELS,
) -> Footage:
    """Footage of `path` (a video file or a folder of numbered frames), checked: a file
    OpenCV cannot open, a video without frames, a frame too large, an empty folder each
    raise one MepipeError naming the path. `fps` overrides the video's own rate (a folder
    has none: 30 unless given)."""
    path = Path(path)
    if not path.exists():
        raise MepipeError("video not found", path)
    if path.is_dir():
        source, _stray = list_frames(path)
        if not source.paths:
            raise MepipeError("the folder holds no numbered image frames", path)
        paths = source.paths[:max_frames]
        width, height = frame_size(paths[0], max_pixels)
        return Footage(
            str(path), fps or DEFAULT_FOLDER_FPS, len(paths), width, height, paths, max_pixels
        )
    capture = cv2.VideoCapture(str(path))
    try:
        if not capture.isOpened():
            raise MepipeError("cannot read the video (not a format OpenCV can decode)", path)
        width = int(capture.get(cv2.CAP_PROP_FRAME_WIDTH))
        height = int(capture.get(cv2.CAP_PROP_FRAME_HEIGHT))
        check_frame_size(width, height, max_pixels, str(path))
        rate = fps or float(capture.get(cv2.CAP_PROP_FPS) or 0.0)
        # The header's frame count is a guess in many containers: count by reading.
        count = 0
        while count < max_frames and capture.grab():
            count += 1
    finally:
        capture.release()
    if count == 0 or width <= 0 or height <= 0:
        raise MepipeError("the video has no frames that can be decoded", path)
    if not rate or rate <= 0 or rate > 10_000:
        raise MepipeError("the video does not state its frame rate; give it with --fps", path)
    return Footage(str(path), rate, count, width, height, (), max_pixels)
