"""Releases annotated by a spreadsheet (CASME II, SAMM): sheet rows, then clip records.

Both releases name, per row, a subject, a clip folder, onset/apex/offset frame numbers, action
units and an emotion. What differs (file names, header text, subject spelling, frame file
names) is passed in by each adapter; the checks of a row against the frames on disk are
the same and live here, so both releases reject a bad clip with the same words.

Finding the sheet and turning its rows into records and notes (strays, clip folders the sheet
does not name) is also the same for both releases: `find_sheet` and `parse_sheet_release`.

A problem with the sheet itself (no header, an unknown emotion, a frame cell that is not a
frame number, a formula without a saved value, a merged cell) is fatal: the sheet is wrong
and guessing would hide it. A problem with one clip's frames on disk rejects that clip only,
with its reason. A hole in a clip's apex or offset cell (empty, `/`, -1, apex on the onset or
outside onset..offset, a mistyped offset) is neither: every copy of these sheets has some, so
the offset is clamped to the frames, the apex is left to be estimated from the frames
(mepipe.apex) and the clip is flagged.
"""

from __future__ import annotations

import functools
import re
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from mepipe.adapters.base import ParseResult
from mepipe.adapters.layout import (
    child_path,
    clip_dirs_on_disk,
    find_files,
    frame_size,
    sequence_frames,
    tree_strays,
    unlisted_note,
)
from mepipe.adapters.record import clip_record
from mepipe.adapters.spreadsheet import (
    Cell,
    Header,
    Table,
    as_int,
    as_text,
    cell_name,
    find_header,
    read_table,
)
from mepipe.apex import check_annotation
from mepipe.errors import MepipeError
from mepipe.protocols import normalise_label
from mepipe.records import ApexSource, ClipRecord, FrameSource

# Fields every annotation sheet provides; `action_units` may be missing.
REQUIRED = ("subject", "clip", "onset", "apex", "offset", "label")
NO_APEX = "/"  # CASME II sub04/EP12_01f writes '/' where the apex frame should be
# No recording has more frames than a 32-bit counter; a larger number (1e30) is a typo and
# would overflow the manifest's integer columns.
MAX_FRAME = 2**31 - 1


@dataclass(frozen=True)
class AnnotationRow:
    """One sheet row, checked and normalised (subject as in the manifest, label canonical)."""

    row: int
    subject: str
    clip: str
    onset: int
    apex: int | None  # None where the apex cell is empty or '/'
    offset: int
    label: str
    action_units: str | None
    no_apex: str | None = None  # why `apex` is None, in words for the clip's flag


def _frame_cell(table: Table, header: Header, row: int, field: str, value: Cell) -> int | None:
    number = as_int(value)
    if number is not None and 0 <= number <= MAX_FRAME:
        return number
    if field == "apex" and (
        value is None or number == -1 or (isinstance(value, str) and value.strip() == NO_APEX)
    ):
        return number  # a hole, not a broken sheet: the apex is estimated from the frames
    if number is not None:
        raise MepipeError(
            f"{header.names[field]} is {value}, not a frame number (0 to {MAX_FRAME})",
            table.path,
            row,
        )
    shown = "an empty cell" if value is None else f"'{value}'"
    raise MepipeError(
        f"{header.names[field]} is {shown}, not an integer frame number", table.path, row
    )


def read_rows(
    table: Table,
    header: Header,
    database: str,
    subject_of: Callable[[Cell], str | None],
) -> list[AnnotationRow]:
    """Every data row below the header (blank rows skipped), checked; fatal on a bad cell."""
    rows: list[AnnotationRow] = []
    seen: dict[tuple[str, str], int] = {}
    for number, cells in table.rows:
        if number <= header.row:
            continue
        values = {field: header.cell(cells, field) for field in header.columns}
        for field, column in header.columns.items():
            why = table.why_empty(number, column)
            if why is not None:
                where = cell_name(number, column)
                raise MepipeError(f"{header.names[field]} cell {where} {why}", table.path, number)
        if all(values[f] is None for f in REQUIRED):
            continue
        subject = subject_of(values["subject"])
        if subject is None:
            raise MepipeError(
                f"{header.names['subject']} cell '{values['subject']}' is not a subject id",
                table.path,
                number,
            )
        clip = as_text(values["clip"])
        if clip is None:
            raise MepipeError(f"{header.names['clip']} cell is empty", table.path, number)
        first = seen.setdefault((subject, clip), number)
        if first != number:
            raise MepipeError(
                f"names clip {subject}/{clip} a second time (first in row {first})",
                table.path,
                number,
            )
        onset, apex, offset = (
            _frame_cell(table, header, number, f, values[f]) for f in ("onset", "apex", "offset")
        )
        assert onset is not None and offset is not None  # only the apex may be missing
        shown = "empty" if values["apex"] is None else f"'{values['apex']}'"
        no_apex = f"no apex annotated (the {header.names['apex']} cell is {shown})"
        raw_label = as_text(values["label"])
        if raw_label is None:
            raise MepipeError(f"{header.names['label']} cell is empty", table.path, number)
        try:
            label = normalise_label(database, raw_label)
        except ValueError as exc:
            raise MepipeError(str(exc), table.path, number) from None
        aus = as_text(values.get("action_units"))
        rows.append(AnnotationRow(number, subject, clip, onset, apex, offset, label, aus, no_apex))
    return rows


def reject_reason(
    row: AnnotationRow, clip_dir: Path, source: FrameSource, frame_name: Callable[[int], str]
) -> str | None:
    """Why a row's clip cannot be used, judged against the frames on disk; None if it can.

    Missing frames reject the clip: its onset frame, or an apex frame that the sheet puts
    validly inside onset..offset. Holes in the apex and offset cells do not (see
    `mepipe.apex.check_annotation`), nor does a missing *offset* frame: some copies hold
    fewer frames than annotated (CASME II sub16/EP01_08), and the offset is clamped.
    """
    if not clip_dir.is_dir():
        return f"clip folder {row.subject}/{row.clip} is missing (expected {clip_dir})"
    apex_inside = row.apex is not None and row.onset < row.apex <= row.offset
    for what, number in (("onset", row.onset), ("apex", row.apex if apex_inside else None)):
        if number is not None and not source.has(number):
            expected = clip_dir / frame_name(number)
            return f"{what} frame {number} is missing on disk (expected {expected})"
    return None


def annotated_record(
    database: str,
    row: AnnotationRow,
    frames_dir: Path,
    frame_name: Callable[[int], str],
    extra: dict[str, str],
) -> tuple[ClipRecord, list[str]]:
    """The ClipRecord of one sheet row (rejected with its reason if unusable) and stray files.

    The row's clip folder is `frames_dir/<subject>/<clip>`; a clip cell that is not a plain
    folder name (`../sub02/EP03_14f`) rejects the clip before anything on disk is read.
    """
    source, stray = FrameSource(()), []
    try:
        clip_dir = child_path(frames_dir, row.subject, row.clip)
    except MepipeError as exc:
        reason: str | None = f"clip name {exc.message}; it must name a folder inside {exc.path}"
    else:
        if clip_dir.is_dir():
            source = sequence_frames(clip_dir, stray)
        reason = reject_reason(row, clip_dir, source, frame_name)
    size = (0, 0)
    if reason is None:
        try:
            size = frame_size(source.path_of(row.onset))
        except MepipeError as exc:
            reason = f"onset frame cannot be read: {exc}"
    apex, offset, apex_source, flag = row.apex, row.offset, ApexSource.ANNOTATED, None
    if reason is None:
        check = check_annotation(row.onset, row.apex, row.offset, source.numbers, row.no_apex)
        apex, offset, flag = check.apex, check.offset, "; ".join(check.notes) or None
        if apex is None:
            apex_source = ApexSource.ESTIMATED  # filled in by mepipe.apex.estimate_apex
    record = clip_record(
        database,
        row.subject,
        row.clip,
        row.label,
        source,
        apex_source,
        onset=row.onset,
        apex=apex,
        offset=offset,
        size=size,
        action_units=row.action_units,
        extra=extra,
        reject_reason=reason,
        flag=flag,
    )
    return record, stray


def find_sheet(
    root: Path,
    pattern: re.Pattern[str],
    rank: Callable[[Path], Any],
    title: str,
    expected: str,
    notes: list[str],
) -> Path:
    """The annotation workbook below `root`: with several, the one `rank` puts last (a note
    says which); with none, a fatal error naming the `expected` file names."""
    found = find_files(root, pattern)
    if not found:
        raise MepipeError(
            f"no {title} annotation file found below this folder (expected {expected})", root
        )
    chosen = max(found, key=rank)
    if len(found) > 1:
        notes.append(f"several {title} annotation files; using {chosen}")
    return chosen


def parse_sheet_release(
    database: str,
    root: Path,
    sheet: Path,
    frames_dir: Path,
    notes: list[str],
    *,
    columns: dict[str, tuple[str, ...]],
    subject_of: Callable[[Cell], str | None],
    subject_dir: re.Pattern[str],
    frame_name: Callable[[str, int], str],
    extra: dict[str, str],
) -> ParseResult:
    """Every row of `sheet` as a record of the clip `frames_dir/<subject>/<clip>/`.

    What the releases differ in is passed in: the sheet's `columns` (field -> accepted
    header texts), how a Subject cell reads (`subject_of`), the subject folders' names
    (`subject_dir`) and the frame file of (subject, frame number). Each record's `extra`
    is `extra` plus the sheet and row it came from. Files at the subject and clip-folder
    levels are stray; clip folders the sheet does not name are ignored, with a note.
    """
    table = read_table(sheet)
    header = find_header(table, columns, optional=("action_units",))
    rows = read_rows(table, header, database, subject_of)
    sheet_name = sheet.relative_to(root).as_posix()
    records, stray = [], []
    for row in rows:
        row_extra = {**extra, "sheet": sheet_name, "row": str(row.row)}
        name = functools.partial(frame_name, row.subject)
        record, clip_stray = annotated_record(database, row, frames_dir, name, row_extra)
        records.append(record)
        stray.extend(clip_stray)
    stray.extend(tree_strays(frames_dir, subject_dir))
    named = {(row.subject, row.clip) for row in rows}
    note = unlisted_note(clip_dirs_on_disk(frames_dir, subject_dir) - named, sheet_name)
    if note:
        notes.append(note)
    return ParseResult(records, stray_files=sorted(stray), notes=notes)
