"""Decode frames of a clip, from image files or from a video, as RGB uint8 arrays.

Face tools need three channels, so grayscale sources (SAMM, most of CK+) come back as
three identical channels. Unreadable or truncated files raise MepipeError naming the file.

A frame's size is read from its header before anything is decoded: a frame of more than
MAX_FRAME_PIXELS is refused, so that a decompression bomb (a 20000x20000 PNG compresses to
a few hundred KB) costs no memory and rejects only its clip.
"""

from __future__ import annotations

import contextlib
import re
import warnings
from collections.abc import Iterator, Sequence
from pathlib import Path

import cv2
import numpy as np
from PIL import Image

from mepipe.errors import MepipeError

# 40 MP: about 20 times the largest frame of the supported releases (SAMM, 2040x1088), and
# at most 120 MB per decoded RGB frame. Readers take `max_pixels` to change it.
MAX_FRAME_PIXELS = 40_000_000


def check_frame_size(width: int, height: int, max_pixels: int, where: str) -> None:
    """MepipeError naming `where` and its size if a width x height frame is over the limit."""
    if width * height > max_pixels:
        raise MepipeError(
            f"frame is {width}x{height} ({width * height / 1e6:.0f} MP), over the limit of "
            f"{max_pixels / 1e6:g} MP per frame",
            where,
        )


@contextlib.contextmanager
def open_frame(path: str | Path, max_pixels: int = MAX_FRAME_PIXELS) -> Iterator[Image.Image]:
    """An image file opened by Pillow: its header read and its size checked against
    `max_pixels`, its pixels not yet decoded. Any problem, in the block too, becomes a
    MepipeError naming the file."""
    try:
        with warnings.catch_warnings():
            # Pillow warns above 89 MP; the size is checked here, and the terminal stays quiet.
            warnings.simplefilter("ignore", Image.DecompressionBombWarning)
            image = Image.open(path)
        with image:
            check_frame_size(image.width, image.height, max_pixels, str(path))
            yield image
    except FileNotFoundError:
        raise MepipeError("frame file is missing", path) from None
    except Image.DecompressionBombError as exc:
        # Pillow refuses frames over 179 MP itself, before their width and height are known.
        found = re.search(r"\((\d+) pixels\)", str(exc))
        size = f"{int(found.group(1)) / 1e6:.0f} MP" if found else str(exc)
        raise MepipeError(
            f"frame is too large to decode ({size}, over the limit of {max_pixels / 1e6:g} MP "
            "per frame)",
            path,
        ) from None
    except (OSError, SyntaxError, ValueError) as exc:
        raise MepipeError(f"cannot decode image (unreadable or truncated: {exc})", path) from None


def frame_size(path: str | Path, max_pixels: int = MAX_FRAME_PIXELS) -> tuple[int, int]:
    """(width, height) from an image file's header, without decoding its pixels."""
    with open_frame(path, max_pixels) as image:
        return image.size


def read_image(path: str, max_pixels: int = MAX_FRAME_PIXELS) -> np.ndarray:
    """One image file as RGB uint8; grayscale is expanded to three channels.

    Decoded with Pillow rather than OpenCV because OpenCV returns a half-grey picture for a
    truncated JPEG with only a warning, and a truncated frame must reject its clip. Pillow
    reads the header first, so the size is checked before the pixels are decoded.
    """
    with open_frame(path, max_pixels) as image:
        image.load()
        return np.asarray(image.convert("RGB"))


def iter_video_frames(
    video: str, numbers: Sequence[int], max_pixels: int = MAX_FRAME_PIXELS
) -> Iterator[tuple[int, np.ndarray]]:
    """(number, frame) of `video` by 1-based number, in video order, one frame in memory at a
    time; read sequentially (seeking is unreliable in AVI)."""
    wanted = set(numbers)
    found = 0
    capture = cv2.VideoCapture(video)
    if not capture.isOpened():
        raise MepipeError("cannot open video", video)
    try:
        width = int(capture.get(cv2.CAP_PROP_FRAME_WIDTH))
        height = int(capture.get(cv2.CAP_PROP_FRAME_HEIGHT))
        check_frame_size(width, height, max_pixels, video)
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


def read_video_frames(
    video: str, numbers: Sequence[int], max_pixels: int = MAX_FRAME_PIXELS
) -> dict[int, np.ndarray]:
    """Frames of `video` by 1-based number, read sequentially (seeking is unreliable in AVI)."""
    return dict(iter_video_frames(video, numbers, max_pixels))


def read_frames(
    numbers: Sequence[int],
    frame_numbers: Sequence[int],
    frame_paths: Sequence[str],
    video: str | None = None,
    max_pixels: int = MAX_FRAME_PIXELS,
) -> list[np.ndarray]:
    """Frames `numbers` of one clip, given its manifest columns (frame_numbers/paths, video);
    a frame of more than `max_pixels` raises MepipeError with its size, undecoded."""
    if video:
        by_number = read_video_frames(video, numbers, max_pixels)
        return [by_number[n] for n in numbers]
    index = {n: p for n, p in zip(frame_numbers, frame_paths, strict=True)}
    try:
        return [read_image(index[n], max_pixels) for n in numbers]
    except KeyError as exc:
        raise MepipeError(f"frame {exc.args[0]} is not among the clip's frames on disk") from None


def iter_frames(
    numbers: Sequence[int],
    frame_numbers: Sequence[int],
    frame_paths: Sequence[str],
    video: str | None = None,
    max_pixels: int = MAX_FRAME_PIXELS,
) -> Iterator[np.ndarray]:
    """Frames `numbers` (ascending) of one clip, one at a time: a long clip of large frames
    (SAMM's 2040x1088) never sits in memory whole."""
    if video:
        yield from (frame for _, frame in iter_video_frames(video, numbers, max_pixels))
        return
    index = dict(zip(frame_numbers, frame_paths, strict=True))
    for number in numbers:
        if number not in index:
            raise MepipeError(f"frame {number} is not among the clip's frames on disk")
        yield read_image(index[number], max_pixels)
