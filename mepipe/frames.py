"""Frames on disk: list them in numeric order, and choose the neutral and expression frames.

The number in a frame's file name is the absolute frame index in the original video, so
frames sort by that number, never as text (img9 < img10).
"""

from __future__ import annotations

import re
from pathlib import Path

from mepipe.records import ClipRecord, FrameSelection, FrameSource

IMAGE_EXTENSIONS = frozenset({".jpg", ".jpeg", ".png", ".bmp", ".tif", ".tiff"})
EXPRESSION_FRAMES = 5
_LAST_NUMBER = re.compile(r"(\d+)(?!.*\d)")


def frame_number(path: Path) -> int | None:
    """The last run of digits in the file stem (`reg_img46.jpg` -> 46), or None."""
    match = _LAST_NUMBER.search(path.stem)
    return int(match.group(1)) if match else None


def list_frames(folder: Path) -> tuple[FrameSource, list[str]]:
    """Image files of `folder` sorted by frame number, and the stray files passed over.

    Stray files are anything that is not an image with a number in its name: users unpack
    these archives by hand, and `.DS_Store`, `Thumbs.db` or shortcuts must never fail ingest.
    """
    frames: list[tuple[int, str]] = []
    stray: list[str] = []
    for entry in sorted(folder.iterdir()):
        number = frame_number(entry) if entry.suffix.lower() in IMAGE_EXTENSIONS else None
        if entry.is_file() and number is not None:
            frames.append((number, str(entry)))
        else:
            stray.append(str(entry))
    frames.sort()
    return FrameSource(tuple(n for n, _ in frames), tuple(p for _, p in frames)), stray


def select_frames(record: ClipRecord) -> FrameSelection:
    """Neutral = onset; expression = the five frames on disk centred on the apex.

    The window is shifted, never truncated, to stay inside onset..offset and inside the
    frames that exist on disk. A clip with fewer than five usable frames repeats its last
    frames and says so in `flag`; frames missing on disk between the neutral and the last
    expression frame are named there too (`missing_note`). Record validity (apex present and on disk) is the
    adapter's and `validate`'s job; this function assumes a record that was not rejected.
    """
    usable = [n for n in record.source.numbers if record.onset <= n <= record.offset]
    if record.apex is None or record.apex not in usable:
        raise ValueError(f"{record.key}: apex {record.apex} is not a usable frame")
    notes = []
    if record.offset not in usable:
        notes.append(f"offset frame {record.offset} not on disk; frames end at {usable[-1]}")
    neutral = usable[0]
    if neutral != record.onset:
        notes.append(f"onset frame {record.onset} not on disk; neutral is frame {neutral}")
    if len(usable) < EXPRESSION_FRAMES:
        expression = tuple(usable[1:] or usable)
        expression = expression + (expression[-1],) * (EXPRESSION_FRAMES - len(expression))
        notes.append(
            f"only {len(usable)} frames from onset to offset; expression frames repeat {expression[-1]}"
        )
        return FrameSelection(neutral, expression, _flag(notes, usable, expression))
    centre = usable.index(record.apex)
    start = min(max(centre - EXPRESSION_FRAMES // 2, 0), len(usable) - EXPRESSION_FRAMES)
    expression = tuple(usable[start : start + EXPRESSION_FRAMES])
    return FrameSelection(neutral, expression, _flag(notes, usable, expression))


def _flag(notes: list[str], usable: list[int], expression: tuple[int, ...]) -> str | None:
    """The selection's flag: `notes` and the frames missing among the chosen ones, if any."""
    missing = missing_note(usable, max(expression))
    return "; ".join([*notes, missing] if missing else notes) or None


def missing_note(usable: list[int], last: int, shown: int = 10) -> str | None:
    """Which frames are missing on disk between the neutral frame `usable[0]` and `last`.

    A gap there means the chosen frames lie further apart in time than they look (a
    deleted `img10` makes the window 8, 9, 11, ...), so the clip is flagged with the
    missing numbers. Frames missing after `last` change nothing and are not named.
    """
    runs = [
        (before + 1, after - 1)
        for before, after in zip(usable, usable[1:], strict=False)
        if after <= last and after - before > 1
    ]
    if not runs:
        return None
    count = sum(high - low + 1 for low, high in runs)
    names = [str(low) if low == high else f"{low}-{high}" for low, high in runs[:shown]]
    more = ", ..." if len(runs) > shown else ""
    return (
        f"{count} frame{'s' if count > 1 else ''} missing on disk between neutral frame "
        f"{usable[0]} and expression frame {last}: {', '.join(names)}{more}"
    )
