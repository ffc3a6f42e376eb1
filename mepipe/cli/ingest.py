"""`mepipe ingest`: the command over `mepipe.ingest.ingest_database`, and the summary table
of its report."""

from __future__ import annotations

import os
from pathlib import Path
from typing import Any

import click
from rich.console import Console
from rich.table import Table
from rich.text import Text

from mepipe.adapters import ADAPTERS, adapter_options
from mepipe.apex import APEX_METHODS
from mepipe.cli.options import dataclass_options, options_from_cli
from mepipe.ingest import IngestOptions, ingest_database
from mepipe.records import IngestReport
from mepipe.shards.clip import STAGES
from mepipe.shards.options import ShardOptions
from mepipe.shards.write import ShardRun
from mepipe.untrusted import printable


def shard_summary_table(database: str, run: ShardRun) -> Table:
    """The alignment's stage timings (seconds, share, ms per clip) and shard counts."""
    table = Table(title=f"{database}: {run.clips_aligned} clips aligned in {run.seconds:.1f} s")
    table.add_column("stage")
    table.add_column("seconds", justify="right")
    table.add_column("share", justify="right")
    table.add_column("ms / clip", justify="right")
    total = sum(run.timings.values()) or 1.0
    for stage in STAGES:
        seconds = run.timings[stage]
        per_clip = 1000 * seconds / max(run.clips_aligned, 1)
        table.add_row(stage, f"{seconds:.2f}", f"{seconds / total:.0%}", f"{per_clip:.1f}")
    table.caption = (
        f"{run.shards_written} shards written, {run.shards_reused} reused; "
        "stage seconds are summed over workers"
    )
    return table


def ingest_and_print(
    database: str, raw_root: Any, data_dir: Any, console: Console, **kwargs: Any
) -> IngestReport:
    """`ingest_database`, with its alignment summary and then its report on `console`."""
    report = ingest_database(
        database,
        raw_root,
        data_dir,
        console=console,
        shard_summary=lambda db, run: console.print(shard_summary_table(db, run)),
        **kwargs,
    )
    print_summary(report, console)
    return report


def print_summary(report: IngestReport, console: Console) -> None:
    """The terminal view of a report: labels, then every rejected or flagged clip.

    Keys, reasons and notes quote the release's own text: shown escaped, never as markup.
    """
    table = Table(
        title=f"{report.database}: {report.clips_accepted} of {report.clips_found} clips usable"
    )
    table.add_column("label")
    table.add_column("clips", justify="right")
    for label, count in report.labels.items():
        table.add_row(label, str(count))
    table.add_section()
    table.add_row("rejected", str(len(report.rejected)))
    table.add_row("flagged", str(len(report.flagged)))
    table.add_row("unlabelled sequences", str(len(report.unlabelled)))
    table.add_row("stray files ignored", str(len(report.stray_files)))
    console.print(table)
    for title, items in (("Rejected", report.rejected), ("Flagged", report.flagged)):
        if items:
            detail = Table(title=title, show_lines=False)
            detail.add_column("clip")
            detail.add_column("reason")
            for item in items:
                detail.add_row(Text(printable(item.key)), Text(printable(item.reason)))
            console.print(detail)
    for note in report.notes:
        console.print(Text(f"note: {printable(note)}"))


@click.command("ingest")
@click.argument("database", type=click.Choice(sorted(ADAPTERS)))
@click.argument("raw_root", type=click.Path(path_type=Path))
@click.option(
    "--out",
    "data_dir",
    required=True,
    type=click.Path(path_type=Path),
    help="Data folder; writes <out>/<database>/.",
)
@click.option(
    "--variant",
    type=click.Choice(["raw", "cropped"]),
    default="raw",
    show_default=True,
    help="CASME II / SMIC / Oulu-CASIA frames to read.",
)
@click.option(
    "--smic-subsets",
    default="HS,VIS,NIR",
    show_default=True,
    help="SMIC camera sets to read, comma-separated.",
)
@click.option(
    "--apex-method",
    type=click.Choice(APEX_METHODS),
    default="midpoint",
    show_default=True,
    help="How to choose an apex the release does not annotate (SMIC, MMI without markers).",
)
@click.option(
    "--smic-apex",
    type=click.Choice(APEX_METHODS),
    hidden=True,
    deprecated="use --apex-method",
    help="Old name of --apex-method.",
)
@click.option("--oulu-modality", type=click.Choice(["VL", "NI"]), default="VL", show_default=True)
@click.option(
    "--oulu-lighting",
    type=click.Choice(["Strong", "Weak", "Dark"]),
    default="Strong",
    show_default=True,
)
@click.option(
    "--no-align", is_flag=True, help="Write only the manifest: no face alignment, no shards."
)
@dataclass_options(ShardOptions)
@click.option(
    "--workers",
    type=click.IntRange(min=1),
    default=None,
    help="worker processes [default: all cores]",
)
def ingest_command(
    database: str,
    raw_root: Path,
    data_dir: Path,
    variant: str,
    smic_subsets: str,
    apex_method: str,
    smic_apex: str | None,
    oulu_modality: str,
    oulu_lighting: str,
    no_align: bool,
    workers: int | None,
    **shard_kwargs: Any,
) -> None:
    """Parse the raw DATABASE release at RAW_ROOT (the folder you unpacked) into a manifest."""
    subsets = tuple(s.strip() for s in smic_subsets.split(",") if s.strip())
    release_options = adapter_options(
        database, variant=variant, subsets=subsets, modality=oulu_modality, lighting=oulu_lighting
    )
    shard_options = options_from_cli(ShardOptions, shard_kwargs)
    workers = workers or os.cpu_count() or 1
    options = IngestOptions(
        adapter=release_options, apex_method=smic_apex or apex_method, align_faces=not no_align
    )
    console = Console(stderr=True)
    ingest_and_print(
        database,
        raw_root,
        data_dir,
        console,
        options=options,
        shard_options=shard_options,
        workers=workers,
    )
