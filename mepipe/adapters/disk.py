"""Finding a hand-unpacked release's folders and frames on disk (shared by the macro adapters).

Users point mepipe at whatever folder they unpacked, so a release's folders are searched
for by name a few levels down (mepipe.adapters.layout) instead of expected at a fixed place,
and every entry passed over is reported as stray. Archives unpacked
on a Mac leave `__MACOSX/` copies of every folder and `._name.png` resource files that look
like frames: both are passed over here. CK+ and Oulu-CASIA sequences run neutral -> peak
with no onset/apex annotation, so their records are built the same way, here too.
"""

from __future__ import annotations

import re
from collections.abc import Callable
from pathlib import Path

from mepipe.adapters.layout import find_dirs
from mepipe.errors import MepipeError
from mepipe.frames import list_frames
from mepipe.images import read_image
from mepipe.records import ApexSource, ClipRecord, FrameSource


def is_visible(entry: Path) -> bool:
    """False for hidden entries (`.DS_Store`, `._x.png`) and macOS archive leftovers."""
    return not entry.name.startswith(".") and entry.name != "__MACOSX"


def find_named(root: Path, wanted: Callable[[Path], bool]) -> list[Path]:
    """Folders for which `wanted` holds, from `root` down (layout.find_dirs), shallowest
    first, leaving out the `__MACOSX` twins (which sort before most real folders)."""
    return find_dirs(root, lambda p: "__MACOSX" not in p.relative_to(root).parts and wanted(p))


def find_folder(root: Path, name: str) -> Path | None:
    """The shallowest folder called `name` at `root` or a few levels below, or None."""
    found = find_named(root, lambda p: p.name == name)
    return found[0] if found else None


def subfolders(folder: Path, pattern: re.Pattern[str] | None, stray: list[str]) -> list[Path]:
    """Child folders whose name matches `pattern` (all visible ones if None), sorted.

    Everything else in `folder` (files, hidden or oddly named folders) goes to `stray`.
    """
    keep: list[Path] = []
    for entry in sorted(folder.iterdir()):
        named = pattern is None or pattern.fullmatch(entry.name) is not None
        if entry.is_dir() and is_visible(entry) and named:
            keep.append(entry)
        else:
            stray.append(str(entry))
    return keep


def sequence_frames(folder: Path, stray: list[str]) -> FrameSource:
    """The frames of an image-sequence folder, numerically sorted; hidden files to `stray`."""
    source, passed_over = list_frames(folder)
    stray.extend(passed_over)
    hidden = [p for p in source.paths if not is_visible(Path(p))]
    if not hidden:
        return source
    stray.extend(hidden)
    kept = [(n, p) for n, p in zip(source.numbers, source.paths, strict=True) if p not in hidden]
    return FrameSource(tuple(n for n, _ in kept), tuple(p for _, p in kept))


def check_end_frames(source: FrameSource) -> tuple[int, int, str | None]:
    """(width, height, None) from the first frame, or (0, 0, why the clip is unusable).

    Only the first and last frames are decoded: they are the neutral and peak frames of
    sequences that run neutral -> peak, and a truncated one must reject its clip here
    rather than fail alignment later. Sizes vary between sequences (CK+), so each is read.
    """
    if not source.numbers:
        return 0, 0, "no frames in the sequence folder"
    height = width = 0
    for which, path in (("first", source.paths[0]), ("last", source.paths[-1])):
        try:
            image = read_image(path)
        except MepipeError as exc:
            return 0, 0, f"cannot read {which} frame: {exc}"
        if which == "first":
            height, width = image.shape[:2]
    return width, height, None


def peak_sequence_record(
    database: str,
    subject: str,
    clip: str,
    label: str,
    source: FrameSource,
    fps: float,
    *,
    action_units: str | None = None,
    extra: dict[str, str] | None = None,
) -> ClipRecord:
    """The ClipRecord of a sequence that runs neutral -> peak (CK+, Oulu-CASIA).

    Such releases annotate no onset or apex, so the first frame is the onset and the last
    is both the apex and the offset (ApexSource.LAST_FRAME). A sequence without frames or
    with an unreadable end frame is kept, rejected with check_end_frames' reason, so that
    the manifest and the report say why it is missing from the shards.
    """
    width, height, problem = check_end_frames(source)
    last = source.numbers[-1] if source.numbers else 0
    return ClipRecord(
        database=database,
        subject=subject,
        clip=clip,
        label=label,
        source=source,
        onset=source.numbers[0] if source.numbers else 0,
        apex=last if source.numbers else None,
        offset=last,
        apex_source=ApexSource.LAST_FRAME,
        fps=fps,
        width=width,
        height=height,
        action_units=action_units,
        extra={} if extra is None else extra,
        reject_reason=problem,
    )
