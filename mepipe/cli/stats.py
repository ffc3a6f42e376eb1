"""`mepipe stats`: the paper's Table 1 of `mepipe.stats.protocol_stats` as a rich table."""

from __future__ import annotations

from pathlib import Path

import click
from rich.console import Console
from rich.table import Table

from mepipe.atomic import write_json
from mepipe.cli.common import data_option, protocol_option
from mepipe.protocols import load_scheme
from mepipe.stats import ProtocolStats, protocol_stats


def _cell(found: int, expected: int | None, ingested: bool) -> str:
    """`found (expected)`, the found number red where it differs from the expected one."""
    text = str(found) if ingested else "-"
    if expected is None:
        return text
    colour = "green" if found == expected else "red"
    return f"[{colour}]{text}[/] [dim]({expected})[/]"


def protocol_table(data_dir: Path, protocol: str) -> Table:
    """Table 1 of the protocol as a rich table (what `mepipe stats` prints)."""
    return stats_table(protocol_stats(data_dir, protocol))


def stats_table(stats: ProtocolStats) -> Table:
    table = Table(title=load_scheme(stats.protocol).description, caption=_caption(stats))
    table.add_column("database")
    for heading in ("subjects", *stats.classes, "clips"):
        table.add_column(heading, justify="right")
    for i, counts in enumerate([*stats.databases, stats.total]):
        expected = counts.expected
        expected_clips = sum(expected.get(c, 0) for c in stats.classes) if expected else None
        table.add_row(
            counts.name,
            _cell(counts.subjects, expected.get("subjects"), counts.ingested),
            *(_cell(counts.classes[c], expected.get(c), counts.ingested) for c in stats.classes),
            _cell(counts.clips, expected_clips, counts.ingested),
            end_section=i == len(stats.databases) - 1,
        )
    return table


def _caption(stats: ProtocolStats) -> str | None:
    notes = []
    if any(r.expected for r in stats.databases):
        notes.append(
            f"(n): count with the complete release, manifests/schemes/{stats.protocol}.toml"
        )
    missing = [r.name for r in stats.databases if not r.ingested]
    if missing:
        notes.append(f"not ingested: {', '.join(missing)}")
    return "\n".join(notes) or None


@click.command("stats")
@data_option
@protocol_option
@click.option(
    "--json",
    "json_out",
    type=click.Path(dir_okay=False, path_type=Path),
    help="also write the numbers to this JSON file",
)
def stats_command(data_dir: Path, protocol: str, json_out: Path | None) -> None:
    """Subjects and clips per class of each database under a protocol (the paper's Table 1)."""
    stats = protocol_stats(data_dir, protocol)
    Console().print(stats_table(stats))
    if json_out is not None:
        write_json(json_out, stats.to_json())
