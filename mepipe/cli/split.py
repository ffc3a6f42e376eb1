"""`mepipe split loso`: writes `mepipe.split.loso_split` and prints a summary per database."""

from __future__ import annotations

from pathlib import Path

import click
import pandas as pd
from rich.console import Console
from rich.table import Table

from mepipe.atomic import write_parquet
from mepipe.cli.common import data_option, protocol_option
from mepipe.contract.manifest import manifest_path
from mepipe.protocols import Scheme, load_scheme
from mepipe.split import loso_split


def _summary(split: pd.DataFrame, scheme: Scheme) -> Table:
    """Per database: folds, and clips per class that are tested on (macro: trained on)."""
    table = Table(title=f"LOSO split, protocol {scheme.name}")
    table.add_column("database")
    table.add_column("domain")
    table.add_column("folds", justify="right")
    for name in scheme.classes:
        table.add_column(name, justify="right")
    # Every clip appears once per fold; the first fold lists each clip exactly once.
    clips = split[split["fold"] == 0]
    folds = split[split["role"] == "test"].groupby("database")["held_out"].nunique()
    for (database, domain), group in clips.groupby(["database", "domain"], sort=True):
        counts = group["label"].value_counts()
        table.add_row(
            database,
            domain,
            str(folds.get(database, 0)),
            *(str(counts.get(c, 0)) for c in scheme.classes),
        )
    return table


@click.group("split")
def split_group() -> None:
    """Cross-validation splits over the ingested manifests."""


@split_group.command("loso")
@protocol_option
@data_option
@click.option(
    "--out",
    required=True,
    type=click.Path(dir_okay=False, path_type=Path),
    help="the split table to write (Parquet)",
)
@click.option("--macro", multiple=True, help="macro database for every training side (repeatable)")
def loso_command(protocol: str, data_dir: Path, out: Path, macro: tuple[str, ...]) -> None:
    """Leave-one-subject-out: one fold per (database, subject) of the protocol."""
    split = loso_split(data_dir, protocol, macro)
    write_parquet(out, split)
    scheme = load_scheme(protocol)
    console = Console()
    console.print(_summary(split, scheme))
    missing = [db for db in scheme.evaluated if not manifest_path(data_dir, db).exists()]
    if missing:
        console.print(f"[yellow]not ingested, so not in the split: {', '.join(missing)}[/]")
    console.print(f"{split['fold'].nunique()} folds, {len(split)} rows -> {out}")
