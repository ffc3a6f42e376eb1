"""`mepipe demo-data` (miniature raw releases) and `mepipe demo` (the data half of the
README demo on them).

The training half is `mepipe-train demo`: `mepipe` never imports `mepipe_train`
(docs/architecture.md), so `mepipe demo` ends by printing the command that trains.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

import click
from rich.console import Console

from mepipe.atomic import write_parquet
from mepipe.cli.ingest import ingest_and_print
from mepipe.cli.stats import protocol_table
from mepipe.demo.releases import DEMO_SIZES, write_demo_releases
from mepipe.errors import MepipeError
from mepipe.flow import FlowOptions
from mepipe.shards.options import ShardOptions
from mepipe.sheet import write_contact_sheet
from mepipe.split import loso_split
from mepipe.verify import verify_database

# The demo's shards hold onset->apex optical flow, so the sheets show it and the flow
# models can train on it. Farneback, not TV-L1: TV-L1 at 224 px costs about a second per
# clip on one core, which would double the demo (docs/performance.md); real data: --flow tvl1.
DEMO_SHARD_OPTIONS = ShardOptions(optical_flow=FlowOptions(flow="farneback"))


@dataclass(frozen=True)
class DemoData:
    """What the data half of the demo wrote: the data folder and the cde LOSO split."""

    data: Path
    split: Path

    def train_command(self, run: Path) -> str:
        """The `mepipe-train demo` line that trains on this data into `run`."""
        return f"mepipe-train demo --data {self.data} --split {self.split} --out {run}"


def run_demo_data(out: Path, console: Console | None = None) -> DemoData:
    """Demo releases -> ingest (aligned shards with optical flow) -> verify -> LOSO split ->
    stats -> contact sheets (with the motion columns), each step announced on `console`."""
    console = console or Console(stderr=True)
    raw, data = out / "raw", out / "data"
    console.rule("1. demo releases")
    with console.status("Rendering demo releases"):
        write_demo_releases(raw)
    console.rule("2. ingest: frames, labels, aligned faces, optical flow, shards")
    for database in DEMO_SIZES:
        ingest_and_print(database, raw / database, data, console, shard_options=DEMO_SHARD_OPTIONS)
    console.rule("3. verify")
    for database in DEMO_SIZES:
        problems = verify_database(data / database)
        if problems:
            raise MepipeError(f"{database}: " + "; ".join(problems))
        console.print(f"{database}: shards agree with the manifest")
    console.rule("4. LOSO split (cde, macro: ckplus) and Table 1")
    split = loso_split(data, "cde", macro=("ckplus",))
    split_path = out / "splits" / "cde_loso.parquet"
    write_parquet(split_path, split)
    console.print(f"{split.fold.nunique()} folds -> {split_path}")
    console.print(protocol_table(data, "cde"))
    console.rule("5. contact sheets")
    for database in DEMO_SIZES:
        sheet = out / "sheets" / f"{database}.png"
        write_contact_sheet(data / database, sheet, limit=12)
        console.print(f"{database}: {sheet}")
    return DemoData(data=data, split=split_path)


@click.command("demo-data")
@click.argument("out", type=click.Path(path_type=Path))
@click.option("--seed", default=0, show_default=True, help="Seed of the generator.")
def demo_data_command(out: Path, seed: int) -> None:
    """Write miniature raw releases of all six databases to OUT/<db>/ (and ground_truth.json)."""
    console = Console(stderr=True)
    with console.status("Rendering demo releases"):
        truth = write_demo_releases(out, seed=seed)
    for database, clips in truth.items():
        console.print(f"{database}: {len(clips)} clips -> {out / database}")


@click.command("demo")
@click.option(
    "--out",
    required=True,
    type=click.Path(path_type=Path),
    help="Folder for everything the demo makes.",
)
def demo_command(out: Path) -> None:
    """The data half of the pipeline on built-in demo data: releases, ingest, verify, split,
    stats and contact sheets; prints the `mepipe-train demo` command that trains on it."""
    console = Console(stderr=True)
    demo = run_demo_data(out, console)
    console.rule("6. next, a tiny CPU LOSO of EIDNet + MTMNet on this data:")
    console.print(demo.train_command(out / "run"), markup=False, soft_wrap=True)
