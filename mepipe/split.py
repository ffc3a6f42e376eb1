"""`mepipe split`: leave-one-subject-out folds over the clip manifests.

A subject is the pair (database, subject): `s1` of SMIC and a `s1` of another release are
two people, so two folds. Only the protocol's evaluated (micro) databases are ever tested
on; macro databases asked for with `--macro` join the training side of every fold. The
table's columns are documented in docs/splits.md.
"""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path

import pandas as pd

from mepipe.contract.manifest import (
    BASE_COLUMNS,
    MANIFEST_NAME,
    ClipStatus,
    manifest_path,
    manifest_paths,
    read_manifest,
)
from mepipe.contract.split_table import SPLIT_COLUMNS
from mepipe.errors import MepipeError
from mepipe.protocols import Scheme, database_info, is_micro, load_scheme


def read_manifests(
    data_dir: Path, databases: Sequence[str] | None = None, *, require: Sequence[str] = ()
) -> pd.DataFrame:
    """All `<data_dir>/<db>/manifest.parquet` (or those of `databases` that exist), in one table.

    Databases without a manifest are passed over, so a protocol runs on what a user has
    ingested; a MepipeError if none is there. `require` names extra columns that every
    manifest read must have (e.g. `label_cde`), so a stale manifest fails loudly instead of
    quietly losing its clips.
    """
    data_dir = Path(data_dir)
    if databases is None:
        paths = manifest_paths(data_dir)
    else:
        paths = [manifest_path(data_dir, db) for db in databases]
        paths = [p for p in paths if p.exists()]
    if not paths:
        wanted = "any database" if databases is None else ", ".join(databases)
        raise MepipeError(
            f"no manifest found for {wanted} (expected <db>/{MANIFEST_NAME}; run `mepipe ingest`)",
            data_dir,
        )
    frames = [read_manifest(p, (*BASE_COLUMNS, *require)) for p in paths]
    return pd.concat(frames, ignore_index=True)


def protocol_clips(
    data_dir: Path, scheme: Scheme, databases: Sequence[str] | None = None
) -> pd.DataFrame:
    """The clips a protocol uses, from the manifests of `databases` (default: the evaluated)."""
    manifest = read_manifests(
        data_dir, databases or scheme.evaluated, require=(f"label_{scheme.name}",)
    )
    return usable_clips(manifest, scheme, data_dir)


def usable_clips(manifest: pd.DataFrame, scheme: Scheme, data_dir: Path) -> pd.DataFrame:
    """Rows not rejected (flagged ones stay) and labelled by the scheme.

    Adds `label` (the scheme's class, replacing the release's own label) and `label_index`.
    `data_dir` only names the manifest in an error.
    """
    column = f"label_{scheme.name}"
    frame = manifest[(manifest["status"] != ClipStatus.REJECTED) & manifest[column].notna()]
    unknown = sorted(set(frame[column]) - set(scheme.classes))
    if unknown:
        bad = frame[frame[column].isin(unknown)].iloc[0]
        raise MepipeError(
            f"clip {bad['key']}: {column} '{bad[column]}' is not a class of {scheme.name} "
            f"({', '.join(scheme.classes)}); re-run `mepipe ingest`",
            manifest_path(data_dir, bad["database"]),
        )
    frame = frame.assign(
        label=frame[column], label_index=frame[column].map(scheme.class_index).astype("int64")
    )
    return frame.reset_index(drop=True)


def _check_macro(scheme: Scheme, macro: Sequence[str]) -> None:
    for name in macro:
        database_info(name)  # unknown name -> MepipeError listing the known ones
        if is_micro(name):
            raise MepipeError(f"--macro {name}: {name} is a micro-expression database")
        if not scheme.covers(name):
            raise MepipeError(f"--macro {name}: protocol {scheme.name} has no label map for it")


def loso_split(data_dir: Path, protocol: str, macro: Sequence[str] = ()) -> pd.DataFrame:
    """One row per (fold, clip): the table of docs/splits.md.

    Folds are the (database, subject) pairs of the protocol's evaluated databases that have
    at least one usable clip, in sorted order; in each fold that subject's clips are `test`
    and every other clip, macro ones included, is `train`.
    """
    scheme = load_scheme(protocol)
    macro = tuple(dict.fromkeys(macro))
    _check_macro(scheme, macro)
    for name in macro:
        path = manifest_path(data_dir, name)
        if not path.exists():
            raise MepipeError(f"no manifest for --macro {name} (run `mepipe ingest {name}`)", path)
    micro = protocol_clips(data_dir, scheme)
    if micro.empty:
        raise MepipeError(
            f"no clip of {', '.join(scheme.evaluated)} has a {scheme.name} label", data_dir
        )
    clips = micro
    if macro:
        clips = pd.concat([micro, protocol_clips(data_dir, scheme, macro)], ignore_index=True)
    clips = clips.rename(columns={"kind": "domain"}).sort_values(["database", "subject", "key"])

    subjects = micro[["database", "subject"]].drop_duplicates().sort_values(["database", "subject"])
    folds = []
    for fold, (database, subject) in enumerate(subjects.itertuples(index=False)):
        held_out = (clips["database"] == database) & (clips["subject"] == subject)
        folds.append(
            clips.assign(
                fold=fold,
                held_out=f"{database}/{subject}",
                role=held_out.map({True: "test", False: "train"}),
            )
        )
    return pd.concat(folds, ignore_index=True)[list(SPLIT_COLUMNS)]
