"""Decode frames of a clip, from image files or from a video, as RGB uint8 arrays.

Face tools need three channels, so grayscale sources (SAMM, most of CK+) come back as
three identical channels. Unreadable or truncated files raise MepipeError naming the file.
"""

from __future__ import annotations

from collections.abc import Iterator, Sequence

import cv2
import numpy as np
from PIL import Image

from mepipe.errors import MepipeError


def read_image(path: str) -> np.ndarray:
    """One image file as RGB uint8; grayscale is expanded to three channels.

    Decoded with Pillow rather than OpenCV because OpenCV returns a half-grey picture for a
    truncated JPEG with only a warning, and a truncated frame must reject its clip.
    """
    try:
        with Image.open(path) as image:
            image.load()
            return np.asarray(image.convert("RGB"))
    except FileNotFoundError:
        raise MepipeError("frame file is missing", path) from None
    except (OSError, SyntaxError, ValueError) as exc:
        raise MepipeError(f"cannot decode image (unreadable or truncated: {exc})", path) from None


def iter_video_frames(video: str, numbers: Sequence[int]) -> Iterator[tuple[int, np.ndarray]]:
    """(number, frame) of `video` by 1-based number, in video order, one frame in memory at a
    time; read sequentially (seeking is unreliable in AVI)."""
    wanted = set(numbers)
    found = 0
    capture = cv2.VideoCapture(video)
    if not capture.isOpened():
        raise MepipeError("cannot open video", video)
    try:
        number = 0
        while found < len(wanted):
            ok, frame = capture.read()
            if not ok:
                break
            number += 1
            if number in wanted:
                found += 1
                yield number, cv2.cvtColor(frame, cv2.COLOR_BGR2RGB)
    finally:
        capture.release()
    if found < len(wanted):
        first = min(n for n in wanted if n > number)
        raise MepipeError(f"video ends before frame {first} (has {number} frames)", video)


def read_video_frames(video: str, numbers: Sequence[int]) -> dict[int, np.ndarray]:
    """Frames of `video` by 1-based number, read sequentially (seeking is unreliable in AVI)."""
    return dict(iter_video_frames(video, numbers))


def read_frames(
    numbers: Sequence[int],
    frame_numbers: Sequence[int],
    frame_paths: Sequence[str],
    video: str | None = None,
) -> list[np.ndarray]:
    """Frames `numbers` of one clip, given its manifest columns (frame_numbers/paths, video)."""
    if video:
        by_number = read_video_frames(video, numbers)
        return [by_number[n] for n in numbers]
    index = {n: p for n, p in zip(frame_numbers, frame_paths, strict=True)}
    try:
        return [read_image(index[n]) for n in numbers]
    except KeyError as exc:
        raise MepipeError(f"frame {exc.args[0]} is not among the clip's frames on disk") from None


def iter_frames(
    numbers: Sequence[int],
    frame_numbers: Sequence[int],
    frame_paths: Sequence[str],
    video: str | None = None,
) -> Iterator[np.ndarray]:
    """Frames `numbers` (ascending) of one clip, one at a time: a long clip of large frames
    (SAMM's 2040x1088) never sits in memory whole."""
    if video:
        yield from (frame for _, frame in iter_video_frames(video, numbers))
        return
    index = dict(zip(frame_numbers, frame_paths, strict=True))
    for number in numbers:
        if number not in index:
            raise MepipeError(f"frame {number} is not among the clip's frames on disk")
        yield read_image(index[number])
