"""Annotation spreadsheets (.xlsx and legacy .xls) as plain rows of cells.

CASME II and SAMM ship their annotations as Excel sheets whose layout differs between
copies: preamble rows above the header, columns with a blank header, long or short column
names, numbers stored as numbers or as text. So cells are read by column *name*, from a
header row found by its contents, never by a fixed position.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from pathlib import Path

from mepipe.errors import MepipeError

Cell = str | int | float | None
HEADER_SEARCH_ROWS = 40


@dataclass(frozen=True)
class Table:
    """The first sheet of a workbook: (1-based row number as Excel shows it, cells)."""

    path: Path
    rows: tuple[tuple[int, tuple[Cell, ...]], ...]


def _clean(value: object) -> Cell:
    """Empty text becomes None, whole floats become int (xlrd stores every number as float)."""
    if isinstance(value, str):
        value = value.strip()
        return value or None
    if isinstance(value, bool):
        return int(value)
    if isinstance(value, float) and value.is_integer():
        return int(value)
    if isinstance(value, int | float) or value is None:
        return value
    return str(value)


def _read_xlsx(path: Path) -> list[tuple[Cell, ...]]:
    import openpyxl

    workbook = openpyxl.load_workbook(path, data_only=True)
    try:
        sheet = workbook.worksheets[0]
        return [
            tuple(_clean(v) for v in row) for row in sheet.iter_rows(min_row=1, values_only=True)
        ]
    finally:
        workbook.close()


def _read_xls(path: Path) -> list[tuple[Cell, ...]]:
    import xlrd

    book = xlrd.open_workbook(str(path), on_demand=True)
    try:
        sheet = book.sheet_by_index(0)
        return [tuple(_clean(c.value) for c in sheet.row(r)) for r in range(sheet.nrows)]
    finally:
        book.release_resources()


def read_table(path: Path) -> Table:
    """Read the first sheet of an .xlsx (openpyxl) or legacy .xls (xlrd) workbook."""
    if not path.is_file():
        raise MepipeError("annotation file not found", path)
    reader = _read_xls if path.suffix.lower() == ".xls" else _read_xlsx
    try:
        rows = reader(path)
    except Exception as exc:  # both libraries raise many types for a damaged file
        raise MepipeError(f"cannot read spreadsheet ({type(exc).__name__}: {exc})", path) from None
    return Table(path, tuple((number, cells) for number, cells in enumerate(rows, start=1)))


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
