"""`mepipe demo-data` (miniature raw releases) and `mepipe demo` (the whole pipeline on them).

The demo releases are laid out exactly like the six real ones, annotation files included,
with frames of a real public-domain face animated by landmark-driven warps, so every command
can be tried, and every test run, without the licensed data.
"""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path
from typing import Any

import click
from rich.console import Console

from mepipe.atomic import write_json
from mepipe.demo.truth import DemoClip

# Subjects and clips per subject of each demo release: small enough to ingest in a minute,
# large enough for every CDE class and a two-fold LOSO.
DEMO_SIZES: dict[str, dict[str, int]] = {
    "casme2": {"subjects": 3, "clips_per_subject": 4},
    "smic": {"subjects": 3, "clips_per_subject": 4},
    "samm": {"subjects": 3, "clips_per_subject": 4},
    "ckplus": {"subjects": 3, "sequences_per_subject": 4},
    "oulu": {"subjects": 2},
    "mmi": {"subjects": 2, "sessions_per_subject": 3},
}

# The demo's sheets have the holes real copies have (an empty or '/' apex, -1, apex on the
# onset or outside onset..offset, mistyped offsets; docs/releases.md), so the demo shows
# those clips flagged with an estimated apex or a clamped offset, not lost.
DEMO_VARIANTS: dict[str, dict[str, Any]] = {
    "casme2": {"sheet": "updated", "holes": True},
    "samm": {"holes": True},
}


def writers() -> dict[str, Callable[..., list[DemoClip]]]:
    from mepipe.demo.macro import MACRO_WRITERS
    from mepipe.demo.micro import MICRO_WRITERS

    return {**MICRO_WRITERS, **MACRO_WRITERS}


def write_demo_releases(
    out: Path, databases: tuple[str, ...] | None = None, seed: int = 0
) -> dict[str, list[DemoClip]]:
    """Write `<out>/<db>/` raw releases and `<out>/ground_truth.json`; return the truth."""
    truth: dict[str, list[DemoClip]] = {}
    available = writers()
    for database in databases or tuple(DEMO_SIZES):
        options = {**DEMO_SIZES[database], **DEMO_VARIANTS.get(database, {})}
        truth[database] = available[database](out / database, seed=seed, **options)
    write_json(
        out / "ground_truth.json", {db: [c.to_json() for c in clips] for db, clips in truth.items()}
    )
    return truth


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


def run_demo(out: Path, train: bool = True, console: Console | None = None) -> dict[str, Any]:
    """Demo releases -> ingest (aligned shards) -> verify -> LOSO split -> stats -> contact
    sheets -> a tiny CPU LOSO of EIDNet + MTMNet with its metrics table."""
    from mepipe.atomic import write_parquet
    from mepipe.ingest import ingest_database
    from mepipe.sheet import write_contact_sheet
    from mepipe.split import loso_split
    from mepipe.stats import protocol_table
    from mepipe.verify import verify_database

    console = console or Console(stderr=True)
    raw, data = out / "raw", out / "data"
    console.rule("1. demo releases")
    with console.status("Rendering demo releases"):
        write_demo_releases(raw)
    console.rule("2. ingest: frames, labels, aligned faces, shards")
    for database in DEMO_SIZES:
        ingest_database(database, raw / database, data, console=console)
    console.rule("3. verify")
    for database in DEMO_SIZES:
        problems = verify_database(data / database)
        if problems:
            raise click.ClickException(f"{database}: " + "; ".join(problems))
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
    result: dict[str, Any] = {"data": data, "split": split_path}
    if train:
        from mepipe_train.demo import demo_loso

        console.rule("6. mepipe-train: a tiny CPU LOSO (two folds, 64 px, a few steps)")
        from mepipe_train.cli import print_metrics

        result["metrics"] = demo_loso(data, out / "run", split=split_path)
        print_metrics(result["metrics"])
        console.print(f"run -> {out / 'run'} (metrics.json, confusion.png, reconstruction.png)")
    return result


@click.command("demo")
@click.option(
    "--out",
    required=True,
    type=click.Path(path_type=Path),
    help="Folder for everything the demo makes.",
)
@click.option("--no-train", is_flag=True, help="Stop before the training step.")
def demo_command(out: Path, no_train: bool) -> None:
    """Run the whole pipeline on built-in demo data: releases, ingest, verify, split, stats,
    contact sheets and a tiny LOSO training run."""
    run_demo(out, train=not no_train)
