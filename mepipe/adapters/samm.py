"""SAMM: grayscale frames per clip folder, annotations in an Excel sheet.

```
<root>/SAMM/006/006_1_2/006_05562.jpg     # {subject:03d}_{absolute frame:05d}.jpg, grayscale
<root>/SAMM_Micro_FACS_Codes_v2.xlsx      # or SAMM_20181215_Micro_FACS_Codes_v2.xlsx
```

The release's quirks and how this adapter meets each (see shared DATASETS.md):
- the common v2 sheet has 13 preamble rows and its header on row 14 (`Onset Frame`,
  `Estimated Emotion`, ...); the 20181215 copy has one header row with short names
  (`Onset`, `Emotion`, ...): the header row is found by its contents.
- `Subject` is the integer 6 or the text `006`: both become `006`.
- the other class is spelled `Other` or `Others`: databases.toml folds both to `others`.
- frames are grayscale: that is the image reader's business (it returns RGB).
"""

from __future__ import annotations

import functools
import re
from pathlib import Path

from mepipe.adapters.annotated import annotated_record, read_rows
from mepipe.adapters.base import Adapter, ParseResult
from mepipe.adapters.layout import (
    clip_dirs_on_disk,
    find_dirs,
    find_files,
    subdirs,
    tree_strays,
    unlisted_note,
)
from mepipe.adapters.spreadsheet import Cell, as_int, find_header, read_table
from mepipe.errors import MepipeError
from mepipe.protocols import database_info

SUBJECT_DIR = re.compile(r"\d{3}")
SHEET_NAME = re.compile(r".*samm.*\.xlsx?", re.IGNORECASE)
COLUMNS = {
    "subject": ("Subject",),
    "clip": ("Filename",),
    "onset": ("Onset Frame", "Onset"),
    "apex": ("Apex Frame", "Apex"),
    "offset": ("Offset Frame", "Offset"),
    "action_units": ("Action Units",),
    "label": ("Estimated Emotion", "Emotion"),
}


def samm_subject(cell: Cell) -> str | None:
    """`6` or `006` -> `006`; None for anything else."""
    number = as_int(cell)
    return f"{number:03d}" if number is not None and number >= 0 else None


def samm_frame_name(subject: str, number: int) -> str:
    """The file of frame `number` of a subject: `006_05562.jpg`."""
    return f"{subject}_{number:05d}.jpg"


def _is_frames_dir(folder: Path) -> bool:
    """Holds subject folders `006/` that hold clip folders `006_1_2/`.

    Checking the clip folders too keeps MMI's numeric session folders from matching.
    """
    return any(
        SUBJECT_DIR.fullmatch(s.name) and any(c.name.startswith(s.name + "_") for c in subdirs(s))
        for s in subdirs(folder)
    )


def _sheet_rank(path: Path) -> tuple[str, bool]:
    """Prefer the latest dated copy (SAMM_20181215_...), then .xlsx over .xls."""
    date = re.search(r"(\d{8})", path.name)
    return (date.group(1) if date else "", path.suffix.lower() == ".xlsx")


class SammAdapter(Adapter):
    name = "samm"
    title = "SAMM"

    @classmethod
    def looks_like(cls, root: Path) -> bool:
        return bool(find_files(root, SHEET_NAME)) or bool(find_dirs(root, _is_frames_dir))

    def _sheet(self, notes: list[str]) -> Path:
        found = find_files(self.root, SHEET_NAME)
        if not found:
            raise MepipeError(
                "no SAMM annotation file found below this folder (expected "
                "SAMM_Micro_FACS_Codes_v2.xlsx or SAMM_20181215_Micro_FACS_Codes_v2.xlsx)",
                self.root,
            )
        chosen = max(found, key=_sheet_rank)
        if len(found) > 1:
            notes.append(f"several SAMM annotation files; using {chosen}")
        return chosen

    def _frames_dir(self, notes: list[str]) -> Path:
        found = find_dirs(self.root, _is_frames_dir)
        if not found:
            raise MepipeError(
                "no SAMM frames folder found below this folder (expected a folder such as "
                "SAMM/ holding 006/006_1_2/, 007/...)",
                self.root,
            )
        if len(found) > 1:
            notes.append(f"several SAMM frame folders; using {found[0]}")
        return found[0]

    def parse(self) -> ParseResult:
        notes: list[str] = []
        sheet = self._sheet(notes)
        frames_dir = self._frames_dir(notes)
        table = read_table(sheet)
        header = find_header(table, COLUMNS, optional=("action_units",))
        rows = read_rows(table, header, self.name, samm_subject)
        fps = float(database_info(self.name)["fps"])
        sheet_name = sheet.relative_to(self.root).as_posix()
        records, stray = [], []
        for row in rows:
            frame_name = functools.partial(samm_frame_name, row.subject)
            extra = {"sheet": sheet_name, "row": str(row.row)}
            clip_dir = frames_dir / row.subject / row.clip
            record, clip_stray = annotated_record(self.name, row, clip_dir, frame_name, fps, extra)
            records.append(record)
            stray.extend(clip_stray)
        stray.extend(tree_strays(frames_dir, SUBJECT_DIR))
        named = {(row.subject, row.clip) for row in rows}
        note = unlisted_note(clip_dirs_on_disk(frames_dir, SUBJECT_DIR) - named, sheet_name)
        if note:
            notes.append(note)
        return ParseResult(records, stray_files=sorted(stray), notes=notes)
