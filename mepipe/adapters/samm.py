"""SAMM: grayscale frames per clip folder, annotations in an Excel sheet.

```
<root>/SAMM/006/006_1_2/006_05562.jpg     # {subject:03d}_{absolute frame:05d}.jpg, grayscale
<root>/SAMM_Micro_FACS_Codes_v2.xlsx      # or SAMM_20181215_Micro_FACS_Codes_v2.xlsx
```

The release's quirks and how this adapter meets each (docs/releases.md):
- the common v2 sheet has 13 preamble rows and its header on row 14 (`Onset Frame`,
  `Estimated Emotion`, ...); the 20181215 copy has one header row with short names
  (`Onset`, `Emotion`, ...): the header row is found by its contents.
- `Subject` is the integer 6 or the text `006`: both become `006`.
- the other class is spelled `Other` or `Others`: databases.toml folds both to `others`.
- three clips have no apex and one a mistyped offset: the apex is estimated from the
  frames and the offset clamped to them, the clip flagged (mepipe.apex).
- frames are grayscale: that is the image reader's business (it returns RGB).
"""

from __future__ import annotations

import re
from pathlib import Path

from mepipe.adapters.annotated import find_sheet, parse_sheet_release
from mepipe.adapters.base import Adapter, ParseResult
from mepipe.adapters.layout import find_files, find_folders, subfolders
from mepipe.adapters.spreadsheet import Cell, as_int
from mepipe.errors import MepipeError

SUBJECT_DIR = re.compile(r"\d{3}")
# The annotation files of the known copies, as the error for a missing one names them.
SHEETS = "SAMM_Micro_FACS_Codes_v2.xlsx or SAMM_20181215_Micro_FACS_Codes_v2.xlsx"
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
        SUBJECT_DIR.fullmatch(s.name)
        and any(c.name.startswith(s.name + "_") for c in subfolders(s))
        for s in subfolders(folder)
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
        return bool(find_files(root, SHEET_NAME)) or bool(find_folders(root, _is_frames_dir))

    def _frames_dir(self, notes: list[str]) -> Path:
        found = find_folders(self.root, _is_frames_dir)
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
        sheet = find_sheet(self.root, SHEET_NAME, _sheet_rank, self.title, SHEETS, notes)
        frames_dir = self._frames_dir(notes)
        return parse_sheet_release(
            self.name,
            self.root,
            sheet,
            frames_dir,
            notes,
            columns=COLUMNS,
            subject_of=samm_subject,
            subject_dir=SUBJECT_DIR,
            frame_name=samm_frame_name,
            extra={},
        )
