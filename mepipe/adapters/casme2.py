"""CASME II: frames per clip folder, annotations in an Excel sheet.

```
<root>/CASME2_RAW_selected/sub01/EP02_01f/img46.jpg     # raw, numbers not zero-padded
<root>/Cropped/sub01/EP02_01f/reg_img46.jpg             # cropped, same numbering
<root>/CASME2-coding-20140508.xlsx                      # or -20190701, -updated, legacy .xls
```

The release's quirks and how this adapter meets each (docs/releases.md):
- frames folder name varies (`CASME2_RAW_selected`, `CASME2_RAW`, `CASME2-RAW`, `Cropped`,
  `CASME2_Cropped`): found by its `subNN/` children, a few levels below the root.
- sheet name varies (2014/2019 `.xlsx`, legacy `CASME2_label_Ver_2.xls` with seven named
  columns and no blank-header ones): columns are read by header name.
- `Subject` is the integer 1 or the text `01`: both become `sub01`.
- sheets with holes (sub04/EP12_01f apex `/`, sub05/EP09_05f apex == onset, an updated
  copy with about 21 empty apex cells and a mistyped offset): the apex is estimated from
  the frames and the offset clamped to them, the clip flagged (mepipe.apex); the CDE
  scheme names the clips the official list leaves out.
- sub16/EP01_08 is annotated to frame 110 but some copies stop at 96: a missing offset
  frame is not a rejection; the offset is clamped to the frames and the clip flagged.
"""

from __future__ import annotations

import re
from pathlib import Path

from mepipe.adapters.annotated import find_sheet, parse_sheet_release
from mepipe.adapters.base import Adapter, ParseResult, VariantOptions
from mepipe.adapters.layout import choose_variant, find_files, find_folders, has_subfolder
from mepipe.adapters.spreadsheet import Cell, as_int
from mepipe.errors import MepipeError

SUBJECT_DIR = re.compile(r"sub\d+")
# The annotation files of the known copies, as the error for a missing one names them.
SHEETS = (
    "CASME2-coding-20140508.xlsx, CASME2-coding-20190701.xlsx, CASME2-coding-updated.xlsx "
    "or CASME2_label_Ver_2.xls"
)
SHEET_NAME = re.compile(r"casme.?2.*(coding|label).*\.xlsx?", re.IGNORECASE)
COLUMNS = {
    "subject": ("Subject",),
    "clip": ("Filename",),
    "onset": ("OnsetFrame",),
    "apex": ("ApexFrame",),
    "offset": ("OffsetFrame",),
    "action_units": ("Action Units",),
    "label": ("Estimated Emotion",),
}
# When several frame folders of one variant exist, the first named here wins.
FOLDER_PREFERENCE = ("CASME2_RAW_selected", "CASME2_RAW", "CASME2-RAW", "Cropped", "CASME2_Cropped")


def casme2_subject(cell: Cell) -> str | None:
    """`1`, `01` or `sub01` -> `sub01`; None for anything else."""
    text = str(cell).strip() if cell is not None else ""
    number = as_int(cell) if not text.lower().startswith("sub") else as_int(text[3:])
    return f"sub{number:02d}" if number is not None and number >= 0 else None


def _is_frames_dir(folder: Path) -> bool:
    return has_subfolder(folder, SUBJECT_DIR)


def _sheet_rank(path: Path) -> tuple[bool, str]:
    """Of several annotation workbooks, the newest .xlsx (the greatest name) wins."""
    return (path.suffix.lower() == ".xlsx", path.name)


def _preference(folder: Path) -> tuple[int, str]:
    names = [n.lower() for n in FOLDER_PREFERENCE]
    rank = names.index(folder.name.lower()) if folder.name.lower() in names else len(names)
    return rank, str(folder)


class Casme2Adapter(Adapter):
    name = "casme2"
    title = "CASME II"
    Options = VariantOptions
    options: VariantOptions

    @classmethod
    def looks_like(cls, root: Path) -> bool:
        return bool(find_files(root, SHEET_NAME)) or bool(find_folders(root, _is_frames_dir))

    def _frames_dir(self, notes: list[str]) -> tuple[Path, str]:
        found = find_folders(self.root, _is_frames_dir)
        variant, dirs = choose_variant(found, self.root, self.options.variant, notes, self.title)
        if not dirs:
            raise MepipeError(
                "no CASME II frames folder found below this folder (expected a folder such "
                "as CASME2_RAW_selected/ or Cropped/ holding sub01/, sub02/, ...)",
                self.root,
            )
        chosen = min(dirs, key=_preference)
        if len(dirs) > 1:
            notes.append(f"several {variant} CASME II frame folders; using {chosen}")
        return chosen, variant

    def parse(self) -> ParseResult:
        notes: list[str] = []
        sheet = find_sheet(self.root, SHEET_NAME, _sheet_rank, self.title, SHEETS, notes)
        frames_dir, variant = self._frames_dir(notes)
        prefix = "reg_" if variant == "cropped" else ""

        def frame_name(subject: str, number: int) -> str:
            """`img46.jpg` (`reg_img46.jpg` cropped): the same in every subject's folders."""
            return f"{prefix}img{number}.jpg"

        return parse_sheet_release(
            self.name,
            self.root,
            sheet,
            frames_dir,
            notes,
            columns=COLUMNS,
            subject_of=casme2_subject,
            subject_dir=SUBJECT_DIR,
            frame_name=frame_name,
            extra={"variant": variant},
        )
