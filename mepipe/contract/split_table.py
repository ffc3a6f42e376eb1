"""The LOSO split table (docs/splits.md): its columns, its reader and its checker.

`mepipe split loso` writes it (`mepipe.split.loso_split`), `mepipe-train` reads it; both
take the columns from here, and the trainer refuses a table that would leak the held-out
subject into training.
"""

from __future__ import annotations

from pathlib import Path

import pandas as pd

from mepipe.errors import MepipeError
from mepipe.tables import read_table

SPLIT_COLUMNS = (
    "fold",
    "held_out",
    "key",
    "database",
    "subject",
    "domain",
    "role",
    "label",
    "label_index",
)
ROLES = ("train", "test")


def read_split(path: str | Path) -> pd.DataFrame:
    """A split parquet, checked (`check_split`); any problem is a MepipeError naming it."""
    path = Path(path)
    return check_split(
        read_table(path, "split parquet", not_found="split file not found"), str(path)
    )


def check_split(table: pd.DataFrame, where: str = "split table") -> pd.DataFrame:
    """`table` itself once it has every column, only train/test roles and no clip of a
    fold's held-out subject on that fold's training side."""
    missing = [c for c in SPLIT_COLUMNS if c not in table.columns]
    if missing:
        raise MepipeError(f"split table lacks column(s) {', '.join(missing)}", where)
    bad = table[~table["role"].isin(ROLES)]
    if len(bad):
        raise MepipeError(
            f"role must be train or test, got '{bad['role'].iloc[0]}'", where, int(bad.index[0])
        )
    leak = table[
        (table["role"] == "train")
        & (table["held_out"] == table["database"] + "/" + table["subject"])
    ]
    if len(leak):
        raise MepipeError(
            f"the held-out subject's clip {leak['key'].iloc[0]} is on the training side",
            where,
            int(leak.index[0]),
        )
    return table
