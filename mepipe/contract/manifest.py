"""`<data>/<db>/manifest.parquet`: one row per clip (docs/manifest.md).

Everything that writes or reads a manifest takes its name, its integer columns and the
clip status from here, and reads it through `read_manifest`, so a bad file gives the same
one-line error in every command and in the trainer.
"""

from __future__ import annotations

import enum
from collections.abc import Sequence
from pathlib import Path

import pandas as pd

from mepipe.errors import MepipeError
from mepipe.tables import read_table

MANIFEST_NAME = "manifest.parquet"

# Columns every manifest has, that the protocol commands and the trainer read.
BASE_COLUMNS = ("key", "database", "kind", "subject", "clip", "label", "status")
# Frame numbers that may be missing: stored as pandas' nullable Int64.
FRAME_COLUMNS = ("onset", "apex", "offset", "neutral_frame")
# Columns that shard writing adds (docs/manifest.md, second table).
SHARD_COLUMNS = ("shard", "members", "landmarks", "transform", "detect_frame", "flow")


class ClipStatus(enum.StrEnum):
    """A clip's `status`: usable (`ok`, `flagged` with a reason) or not (`rejected`).

    A str, so it is stored and compared as the plain text of the manifest.
    """

    OK = "ok"
    FLAGGED = "flagged"
    REJECTED = "rejected"

    @property
    def rank(self) -> int:
        return list(ClipStatus).index(self)

    @classmethod
    def worst(cls, *statuses: str) -> ClipStatus:
        """The worse of the statuses (rejected over flagged over ok)."""
        return max((cls(s) for s in statuses), key=lambda s: s.rank)


def manifest_path(data_dir: str | Path, database: str) -> Path:
    """Where `database`'s manifest lives under a data folder."""
    return Path(data_dir) / database / MANIFEST_NAME


def manifest_paths(data_dir: str | Path) -> list[Path]:
    """Every `<data_dir>/<db>/manifest.parquet`, sorted by database."""
    return sorted(Path(data_dir).glob(f"*/{MANIFEST_NAME}"))


def read_manifest(path: str | Path, require: Sequence[str] = BASE_COLUMNS) -> pd.DataFrame:
    """One manifest, checked for the columns the caller needs, for holding only its own
    database's clips and for unique keys; any problem is a MepipeError naming the file."""
    path = Path(path)
    frame = read_table(
        path, "the manifest", not_found="manifest not found (run `mepipe ingest` first)"
    )
    missing = [c for c in dict.fromkeys(require) if c not in frame.columns]
    if missing:
        raise MepipeError(
            f"manifest has no column {', '.join(missing)} (re-run `mepipe ingest`)", path
        )
    if "database" in frame.columns:
        database = path.parent.name
        strangers = sorted(set(frame["database"]) - {database})
        if strangers:
            raise MepipeError(
                f"manifest in folder '{database}' holds clips of {', '.join(map(str, strangers))}",
                path,
            )
    if "key" in frame.columns:
        twice = frame["key"][frame["key"].duplicated()]
        if not twice.empty:
            raise MepipeError(f"clip key {twice.iloc[0]} appears on more than one row", path)
    return frame


def usable(manifest: pd.DataFrame) -> pd.DataFrame:
    """The rows of clips that are not rejected."""
    return manifest[manifest["status"] != ClipStatus.REJECTED]
