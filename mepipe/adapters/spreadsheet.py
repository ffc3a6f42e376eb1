"""Annotation spreadsheets (.xlsx and legacy .xls) as plain rows of cells.

CASME II and SAMM ship their annotations as Excel sheets whose layout differs between
copies: preamble rows above the header, columns with a blank header, long or short column
names, numbers stored as numbers or as text. So cells are read by column *name*, from a
header row found by its contents, never by a fixed position.
"""

from __future__ import annotations

import dataclasses
import re
from dataclasses import dataclass
from pathlib import Path

from mepipe.errors import MepipeError

Cell = str | int | float | None
HEADER_SEARCH_ROWS = 40
# Whole floats up to 2**53 are exact; a larger one (a typo such as 1e30) stays a float, so
# that messages show it as written rather than as a 31-digit integer.
EXACT_FLOAT_LIMIT = 2**53
# A merged range: (top row, left column, bottom row, right column), rows 1-based, columns
# 0-based, all inclusive. Kept as ranges, never expanded: a hostile sheet may merge millions.
Merged = tuple[int, int, int, int]


@dataclass(frozen=True)
class Table:
    """The first sheet of a workbook: (1-based row number as Excel shows it, cells).

    Some cells read as empty but are not blank in the workbook: a formula whose value was
    never saved (`formulas`: (row, 0-based column) -> formula text), or a cell of a merged
    range other than its first, which alone holds the value (`merged`, the ranges whose
    first cell holds one). `why_empty` says which, so a reader can name it.
    """

    path: Path
    rows: tuple[tuple[int, tuple[Cell, ...]], ...]
    formulas: dict[tuple[int, int], str] = dataclasses.field(default_factory=dict)
    merged: tuple[Merged, ...] = ()

    def why_empty(self, row: int, column: int) -> str | None:
        """Why cell (row, 0-based column) reads as empty although it is not blank, or None."""
        formula = self.formulas.get((row, column))
        if formula is not None:
            return (
                f"holds the formula {formula} but no saved value (the workbook was written "
                "by a program that does not compute formulas); open and save it in Excel or "
                "LibreOffice, or type the value"
            )
        for top, left, bottom, right in self.merged:
            if top <= row <= bottom and left <= column <= right and (row, column) != (top, left):
                first, last = cell_name(top, left), cell_name(bottom, right)
                return (
                    f"is part of the merged cells {first}:{last}, whose value only {first} "
                    "holds; unmerge them and write the value in every row"
                )
        return None


def _clean(value: object) -> Cell:
    """Empty text becomes None, whole floats become int (xlrd stores every number as float)."""
    if isinstance(value, str):
        value = value.strip()
        return value or None
    if isinstance(value, bool):
        return int(value)
    if isinstance(value, float) and value.is_integer() and abs(value) <= EXACT_FLOAT_LIMIT:
        return int(value)
    if isinstance(value, int | float) or value is None:
        return value
    return str(value)


def cell_name(row: int, column: int) -> str:
    """The Excel name of a cell: (3, 0) -> `A3`."""
    from openpyxl.utils import get_column_letter

    return f"{get_column_letter(column + 1)}{row}"


Rows = list[tuple[Cell, ...]]
# What a reader returns: cell values, formulas without a saved value, merged ranges.
Read = tuple[Rows, dict[tuple[int, int], str], tuple[Merged, ...]]


def _value(rows: Rows, row: int, column: int) -> Cell:
    """Cell (1-based row, 0-based column) of `rows`, None past their end."""
    cells = rows[row - 1] if 0 < row <= len(rows) else ()
    return cells[column] if column < len(cells) else None


def _holding_a_value(rows: Rows, ranges: list[Merged]) -> tuple[Merged, ...]:
    """The merged ranges whose first cell holds a value (a blank merged block is blank)."""
    return tuple(r for r in ranges if _value(rows, r[0], r[1]) is not None)


def _read_xlsx(path: Path) -> Read:
    """Cell values as last saved, formulas without a saved value, merged ranges.

    A workbook written by a program that does not compute formulas (openpyxl, pandas, some
    converters) stores a formula without its value, so it reads as empty: the formulas
    come from a second read of the same file.
    """
    import openpyxl

    workbook = openpyxl.load_workbook(path, data_only=True)
    try:
        sheet = workbook.worksheets[0]
        rows = [
            tuple(_clean(v) for v in row) for row in sheet.iter_rows(min_row=1, values_only=True)
        ]
        ranges = [
            (m.min_row, m.min_col - 1, m.max_row, m.max_col - 1) for m in sheet.merged_cells.ranges
        ]
    finally:
        workbook.close()
    formulas: dict[tuple[int, int], str] = {}
    workbook = openpyxl.load_workbook(path, data_only=False)
    try:
        for cells in workbook.worksheets[0].iter_rows(min_row=1):
            for cell in cells:
                row, column = cell.row, cell.column - 1
                if cell.data_type == "f" and _value(rows, row, column) is None:
                    formulas[(row, column)] = str(getattr(cell.value, "text", cell.value))
    finally:
        workbook.close()
    return rows, formulas, _holding_a_value(rows, ranges)


def _read_xls(path: Path) -> Read:
    """Cell values and merged ranges (a legacy workbook always stores formula values)."""
    import xlrd

    book = xlrd.open_workbook(str(path), on_demand=True, formatting_info=True)
    try:
        sheet = book.sheet_by_index(0)
        rows = [tuple(_clean(c.value) for c in sheet.row(r)) for r in range(sheet.nrows)]
        # xlrd: 0-based (first row, row after last, first column, column after last)
        ranges = [(r0 + 1, c0, r1, c1 - 1) for r0, r1, c0, c1 in sheet.merged_cells]
    finally:
        book.release_resources()
    return rows, {}, _holding_a_value(rows, ranges)


def read_table(path: Path) -> Table:
    """Read the first sheet of an .xlsx (openpyxl) or legacy .xls (xlrd) workbook."""
    if not path.is_file():
        raise MepipeError("annotation file not found", path)
    reader = _read_xls if path.suffix.lower() == ".xls" else _read_xlsx
    try:
        rows, formulas, merged = reader(path)
    except Exception as exc:  # both libraries raise many types for a damaged file
        raise MepipeError(f"cannot read spreadsheet ({type(exc).__name__}: {exc})", path) from None
    return Table(path, tuple(enumerate(rows, start=1)), formulas, merged)


def _key(text: str) -> str:
    """Header text compared without case, spaces or punctuation (`Onset Frame` = `OnsetFrame`)."""
    return re.sub(r"[^a-z0-9]", "", text.lower())


@dataclass(frozen=True)
class Header:
    """Where the header row is and which column holds each field."""

    row: int
    columns: dict[str, int]  # field -> 0-based column index
    names: dict[str, str]  # field -> the header text as written, for messages

    def cell(self, cells: tuple[Cell, ...], field: str) -> Cell:
        index = self.columns.get(field)
        return cells[index] if index is not None and index < len(cells) else None


def find_header(
    table: Table, fields: dict[str, tuple[str, ...]], optional: tuple[str, ...] = ()
) -> Header:
    """The first row naming every required field (one of its accepted names per field).

    `fields` maps a field to the header texts that may name it, e.g. onset ->
    ("Onset Frame", "Onset"). Fields in `optional` may be absent.
    """
    for number, cells in table.rows[:HEADER_SEARCH_ROWS]:
        positions: dict[str, int] = {}
        for index, value in enumerate(cells):
            if isinstance(value, str):
                positions.setdefault(_key(value), index)
        columns: dict[str, int] = {}
        for field, accepted in fields.items():
            index = next((positions[_key(a)] for a in accepted if _key(a) in positions), None)
            if index is not None:
                columns[field] = index
        if all(f in columns for f in fields if f not in optional):
            names = {f: str(cells[i]) for f, i in columns.items()}
            return Header(number, columns, names)
    wanted = ", ".join(f"'{accepted[0]}'" for f, accepted in fields.items() if f not in optional)
    raise MepipeError(
        f"header row not found: none of the first {HEADER_SEARCH_ROWS} rows names the "
        f"columns {wanted}",
        table.path,
    )


def as_int(value: Cell) -> int | None:
    """A whole number from a number or digit-text cell, else None."""
    if isinstance(value, int):
        return value
    if isinstance(value, float) and value.is_integer():
        return int(value)
    if isinstance(value, str) and re.fullmatch(r"[+-]?\d+", value):
        return int(value)
    return None


def as_text(value: Cell) -> str | None:
    """A cell as text (`4` and `4.0` both give '4'), None when empty."""
    if value is None:
        return None
    if isinstance(value, float) and value.is_integer():
        value = int(value)
    return str(value).strip() or None
