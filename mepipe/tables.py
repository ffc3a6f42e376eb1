"""The one reader of Parquet tables from disk (manifests, splits, predictions, diagnostics).

A table on disk may be missing, truncated or not Parquet at all, and pyarrow raises many
exception types for a damaged file; every reader goes through `read_table`, so each such
problem is one MepipeError naming the file, never a traceback.
"""

from __future__ import annotations

from pathlib import Path

import pandas as pd

from mepipe.errors import MepipeError, one_line


def read_table(
    path: str | Path, what: str, hint: str = "", not_found: str | None = None
) -> pd.DataFrame:
    """The table at `path`. `what` names it in messages ("the manifest", "fold
    predictions"); `hint` (what to do) follows a problem; `not_found` replaces the message
    for a missing file."""
    path = Path(path)
    tail = f"; {hint}" if hint else ""
    try:
        return pd.read_parquet(path)
    except FileNotFoundError:
        raise MepipeError(not_found or f"{what} not found{tail}", path) from None
    except Exception as exc:  # pyarrow raises many types for a damaged file
        raise MepipeError(f"cannot read {what} ({one_line(exc)}){tail}", path) from None
