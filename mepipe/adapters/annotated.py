"""Releases annotated by a spreadsheet (CASME II, SAMM): sheet rows, then clip records.

Both releases name, per row, a subject, a clip folder, onset/apex/offset frame numbers, action
units and an emotion. What differs (file names, header text, subject spelling, frame file
names) is passed in by each adapter; the checks of a row against the frames on disk are
the same and live here, so both releases reject a bad clip with the same words.

A problem with the sheet itself (no header, an unknown emotion, a frame cell that is not a
number) is fatal: the sheet is wrong and guessing would hide it. A problem with one clip's
frames on disk rejects that clip only, with its reason.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

from mepipe.adapters.layout import frame_size
from mepipe.adapters.spreadsheet import Cell, Header, Table, as_int, as_text
from mepipe.errors import MepipeError
from mepipe.frames import list_frames
from mepipe.protocols import normalise_label
from mepipe.records import ApexSource, ClipRecord, FrameSource

# Fields every annotation sheet provides; `action_units` may be missing.
REQUIRED = ("subject", "clip", "onset", "apex", "offset", "label")
NO_APEX = "/"  # CASME II sub04/EP12_01f writes '/' where the apex frame should be


@dataclass(frozen=True)
class AnnotationRow:
    """One sheet row, checked and normalised (subject as in the manifest, label canonical)."""

    row: int
    subject: str
    clip: str
    onset: int
    apex: int | None  # None where the sheet writes '/'
    offset: int
    label: str
    action_units: str | None


def _frame_cell(table: Table, header: Header, row: int, field: str, value: Cell) -> int | None:
    number = as_int(value)
    if number is not None:
        return number
    if field == "apex" and isinstance(value, str) and value.strip() == NO_APEX:
        return None
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
        assert onset is not None and offset is not None  # only the apex may be '/'
        raw_label = as_text(values["label"])
        if raw_label is None:
            raise MepipeError(f"{header.names['label']} cell is empty", table.path, number)
        try:
            label = normalise_label(database, raw_label)
        except ValueError as exc:
            raise MepipeError(str(exc), table.path, number) from None
        aus = as_text(values.get("action_units"))
        rows.append(AnnotationRow(number, subject, clip, onset, apex, offset, label, aus))
    return rows


def reject_reason(
    row: AnnotationRow, clip_dir: Path, source: FrameSource, frame_name: Callable[[int], str]
) -> str | None:
    """Why a row's clip cannot be used, judged against the frames on disk; None if it can.

    A missing *offset* frame is no reason: some copies hold fewer frames than annotated
    (CASME II sub16/EP01_08), and frame selection flags it. apex == onset is valid
    (CASME II sub05/EP09_05f).
    """
    if not clip_dir.is_dir():
        return f"clip folder {row.subject}/{row.clip} is missing (expected {clip_dir})"
    if row.apex is None:
        return f"no apex frame annotated (the apex cell is '{NO_APEX}')"
    if row.onset > row.offset:
        return f"onset frame {row.onset} is after offset frame {row.offset}"
    if not row.onset <= row.apex <= row.offset:
        return f"apex frame {row.apex} is outside onset..offset ({row.onset}..{row.offset})"
    for what, number in (("onset", row.onset), ("apex", row.apex)):
        if not source.has(number):
            expected = clip_dir / frame_name(number)
            return f"{what} frame {number} is missing on disk (expected {expected})"
    return None


def annotated_record(
    database: str,
    row: AnnotationRow,
    clip_dir: Path,
    frame_name: Callable[[int], str],
    fps: float,
    extra: dict[str, str],
) -> tuple[ClipRecord, list[str]]:
    """The ClipRecord of one sheet row (rejected with its reason if unusable) and stray files."""
    source, stray = list_frames(clip_dir) if clip_dir.is_dir() else (FrameSource(()), [])
    reason = reject_reason(row, clip_dir, source, frame_name)
    width = height = 0
    if reason is None:
        try:
            width, height = frame_size(source.path_of(row.onset))
        except MepipeError as exc:
            reason = f"onset frame cannot be read: {exc}"
    record = ClipRecord(
        database=database,
        subject=row.subject,
        clip=row.clip,
        label=row.label,
        source=source,
        onset=row.onset,
        apex=row.apex,
        offset=row.offset,
        apex_source=ApexSource.ANNOTATED,
        fps=fps,
        width=width,
        height=height,
        action_units=row.action_units,
        extra=extra,
        reject_reason=reason,
    )
    return record, stray
