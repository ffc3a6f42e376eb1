"""Finding a release's parts on disk: folders, frames, annotation files, raw vs cropped.

The one vocabulary every adapter uses to read a release tree. Users unpack these archives
by hand and point mepipe at whatever folder they unpacked, so nothing here assumes a fixed
depth or a fixed folder name: a frames folder is recognised by its children (`sub01/`,
`006/`, `s1/`), an annotation file by its name, both searched a few levels below the root.

Unpacking leaves litter that must never pass for part of a release: macOS archives hold a
`__MACOSX/` twin of every folder with `._name.png` resource files that look like frames;
Finder and Explorer drop `.DS_Store`, `Thumbs.db` and `desktop.ini`. `is_visible` is the one
test for it: no search descends into litter, no frame, clip or subject is taken from it, and
where a folder's entries are accounted for, litter is listed as stray.
"""

from __future__ import annotations

import os
import re
from collections.abc import Callable
from pathlib import Path

from mepipe import images
from mepipe.errors import MepipeError
from mepipe.frames import IMAGE_EXTENSIONS, list_frames
from mepipe.records import FrameSource

VARIANTS = ("raw", "cropped")
SEARCH_DEPTH = 3  # root/<unpacked folder>/<release folder>/<frames folder>
# What operating systems and archivers leave in a folder (compared in lower case); hidden
# names (`.DS_Store`, `._img46.jpg`, `.Trashes`) are litter too.
LITTER = frozenset(
    {"__macosx", "thumbs.db", "ehthumbs.db", "desktop.ini", "$recycle.bin", "icon\r"}
)


def is_visible(entry: Path | str) -> bool:
    """False for litter: hidden entries, `__MACOSX`, `Thumbs.db`, `desktop.ini` and the like.

    Only the entry's own name counts (folders above a release are the user's business);
    what lies inside a `__MACOSX` folder is never reached, since no search enters it.
    """
    name = Path(entry).name
    return not (name.startswith(".") or name.lower() in LITTER)


def subfolders(
    folder: Path, pattern: re.Pattern[str] | None = None, stray: list[str] | None = None
) -> list[Path]:
    """Visible child folders of `folder` whose whole name matches `pattern` (all if None),
    sorted by name; [] if `folder` cannot be listed.

    With a `stray` list, every other entry (files, litter, oddly named folders) goes to it.
    os.scandir knows an entry's type without a stat call, which matters when a folder
    holds thousands of frames.
    """
    keep: list[str] = []
    others: list[str] = []
    try:
        with os.scandir(folder) as entries:
            for entry in entries:
                named = pattern is None or pattern.fullmatch(entry.name) is not None
                if entry.is_dir() and is_visible(entry.name) and named:
                    keep.append(entry.name)
                else:
                    others.append(entry.name)
    except OSError:
        return []
    if stray is not None:
        stray.extend(str(folder / name) for name in sorted(others))
    return [folder / name for name in sorted(keep)]


def visible_files(folder: Path) -> list[Path]:
    """The files of `folder` that are not litter, sorted."""
    return [e for e in sorted(folder.iterdir()) if e.is_file() and is_visible(e)]


def sequence_frames(folder: Path, stray: list[str]) -> FrameSource:
    """The frames of an image-sequence folder, numerically sorted (mepipe.frames.list_frames);
    everything else, litter such as `._img46.jpg` included, goes to `stray`."""
    source, passed_over = list_frames(folder)
    stray.extend(passed_over)
    hidden = [p for p in source.paths if not is_visible(p)]
    if not hidden:
        return source
    stray.extend(hidden)
    kept = [(n, p) for n, p in zip(source.numbers, source.paths, strict=True) if p not in hidden]
    return FrameSource(tuple(n for n, _ in kept), tuple(p for _, p in kept))


def has_subfolder(folder: Path, pattern: re.Pattern[str]) -> bool:
    """Whether `folder` has a visible sub-folder whose whole name matches `pattern`."""
    return bool(subfolders(folder, pattern))


def find_folders(
    root: Path, matches: Callable[[Path], bool], max_depth: int = SEARCH_DEPTH
) -> list[Path]:
    """Folders at most `max_depth` levels below `root` (root included) for which `matches`,
    shallowest first.

    Breadth first, never into litter (`__MACOSX` twins), and never below a match: a frames
    folder's own sub-folders are not searched again.
    """
    found: list[Path] = []
    level = [root]
    for depth in range(max_depth + 1):
        deeper: list[Path] = []
        for folder in level:
            if matches(folder):
                found.append(folder)
            elif depth < max_depth:
                deeper.extend(subfolders(folder))
        level = deeper
    return found


def find_files(root: Path, pattern: re.Pattern[str], max_depth: int = 2) -> list[Path]:
    """Files named like `pattern` at most `max_depth` levels below `root`, sorted.

    Office lock files (`~$name.xlsx`) and litter (`._name.xlsx`) are not candidates.
    """
    found: list[Path] = []
    level = [root]
    for depth in range(max_depth + 1):
        deeper: list[Path] = []
        for folder in level:
            try:
                with os.scandir(folder) as entries:
                    for entry in entries:
                        if entry.name.startswith("~$") or not is_visible(entry.name):
                            continue
                        if entry.is_file() and pattern.fullmatch(entry.name):
                            found.append(folder / entry.name)
            except OSError:
                continue
            if depth < max_depth:
                deeper.extend(subfolders(folder))
        level = deeper
    return sorted(found)


def find_folder(root: Path, name: str) -> Path | None:
    """The shallowest folder called `name` at `root` or a few levels below, or None."""
    found = find_folders(root, lambda p: p.name == name)
    return found[0] if found else None


def frames_variant(folder: Path, root: Path) -> str:
    """`cropped` or `raw` for a frame tree, from its folder names or its frame file names.

    Cropped trees are named so (`Cropped`, `SMIC_all_cropped`) and their frames carry a
    `reg_` prefix; either sign is enough. Only the folders from `root` down count, so a
    user's own folder above the release cannot change the answer.
    """
    try:
        parts = folder.relative_to(root).parts
    except ValueError:
        parts = (folder.name,)
    if any("crop" in part.lower() for part in parts):
        return "cropped"
    for _, _, files in os.walk(folder):
        frames = sorted(
            f for f in files if Path(f).suffix.lower() in IMAGE_EXTENSIONS and is_visible(f)
        )
        if frames:
            return "cropped" if frames[0].lower().startswith("reg_") else "raw"
    return "raw"


def choose_variant(
    found: list[Path], root: Path, asked: str, notes: list[str], title: str
) -> tuple[str, list[Path]]:
    """The frame trees of the asked variant, else those of the other one (with a note).

    Returns (variant used, its trees); the list is empty when `found` is.
    """
    if asked not in VARIANTS:
        raise MepipeError(f"unknown variant '{asked}' (known: {', '.join(VARIANTS)})", root)
    by_variant: dict[str, list[Path]] = {v: [] for v in VARIANTS}
    for folder in found:
        by_variant[frames_variant(folder, root)].append(folder)
    if by_variant[asked]:
        return asked, by_variant[asked]
    other = next(v for v in VARIANTS if v != asked)
    if by_variant[other]:
        where = ", ".join(str(p) for p in by_variant[other])
        notes.append(f"no {asked} {title} frames found; using the {other} frames in {where}")
    return other, by_variant[other]


def child_path(folder: Path, *names: str) -> Path:
    """`folder/name/...` for names read from a release's own text (a sheet's Filename cell),
    each required to be one plain file or folder name, so the path cannot leave `folder`.

    A Filename cell such as `../sub02/EP03_14f` would otherwise file another subject's
    frames under this subject's id, and `../../../../etc` would list /etc. The check is on
    the text alone: symbolic links on disk are followed, since the user made them.
    Raises MepipeError naming the folder the name should be inside and what is wrong.
    """
    path = folder
    for name in names:
        if name in ("", ".", ".."):
            why = "it is empty" if not name else "it means the folder itself or its parent"
        elif "/" in name or "\\" in name:
            why = "it holds a path separator"
        elif "\0" in name:
            why = "it holds a NUL character"
        else:
            path = path / name
            continue
        raise MepipeError(f"'{name}' is not a plain file or folder name ({why})", path)
    return path


def frame_size(path: str | Path) -> tuple[int, int]:
    """(width, height) from an image file's header, without decoding its pixels; a frame
    over mepipe.images.MAX_FRAME_PIXELS (a decompression bomb) is a MepipeError."""
    return images.frame_size(path)


def tree_strays(frames_dir: Path, subject: re.Pattern[str]) -> list[str]:
    """Entries of a frames folder and of its subject folders that are neither subjects nor clips.

    A frames folder holds subject folders, a subject folder holds clip folders; any file
    or litter at those two levels (`.DS_Store`, `Thumbs.db`, shortcuts, `__MACOSX`) is stray.
    """
    stray: list[str] = []
    for subject_dir in subfolders(frames_dir, subject, stray):
        subfolders(subject_dir, None, stray)
    return stray


def clip_dirs_on_disk(frames_dir: Path, subject: re.Pattern[str]) -> set[tuple[str, str]]:
    """(subject folder, clip folder) names of every clip folder in a frames folder."""
    return {(s.name, c.name) for s in subfolders(frames_dir, subject) for c in subfolders(s)}


def unlisted_note(unlisted: set[tuple[str, str]], sheet: str) -> str | None:
    """A note naming clip folders on disk that the annotation sheet does not name."""
    if not unlisted:
        return None
    names = sorted(f"{s}/{c}" for s, c in unlisted)
    shown = ", ".join(names[:5]) + (", ..." if len(names) > 5 else "")
    return f"{len(names)} clip folders on disk are not in {sheet}, ignored: {shown}"
