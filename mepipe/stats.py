"""`mepipe stats`: the paper's Table 1 for a protocol, from the ingested manifests.

Subjects and clips per class for each evaluated database and in total, counted the way
`mepipe split` counts them (rejected clips out, flagged ones in). Where the protocol file
states the counts of a complete release (`[expected.<db>]`), they are shown beside, so an
incomplete or mis-mapped release shows at a glance.
"""

from __future__ import annotations

from dataclasses import asdict, dataclass, field
from pathlib import Path

import click
from rich.console import Console
from rich.table import Table

from mepipe.atomic import write_json
from mepipe.cli_common import data_option, protocol_option
from mepipe.protocols import load_scheme
from mepipe.split import manifest_path, protocol_clips


@dataclass
class Counts:
    """One row of Table 1. `expected` holds the protocol file's numbers (may be empty)."""

    name: str
    ingested: bool
    subjects: int
    classes: dict[str, int]
    expected: dict[str, int] = field(default_factory=dict)

    @property
    def clips(self) -> int:
        return sum(self.classes.values())


@dataclass
class ProtocolStats:
    protocol: str
    classes: tuple[str, ...]
    databases: list[Counts]

    @property
    def total(self) -> Counts:
        """The sum of the rows; expected only where every database states it."""
        rows = self.databases
        keys = ("subjects", *self.classes)
        expected = {}
        if all(r.expected for r in rows):
            expected = {k: sum(r.expected.get(k, 0) for r in rows) for k in keys}
        return Counts(
            name="total",
            ingested=any(r.ingested for r in rows),
            subjects=sum(r.subjects for r in rows),
            classes={c: sum(r.classes[c] for r in rows) for c in self.classes},
            expected=expected,
        )

    def to_json(self) -> dict:
        def row(counts: Counts) -> dict:
            return {**asdict(counts), "clips": counts.clips}

        return {
            "protocol": self.protocol,
            "classes": list(self.classes),
            "databases": [row(r) for r in self.databases],
            "total": row(self.total),
        }


def protocol_stats(data_dir: Path, protocol: str) -> ProtocolStats:
    """Count subjects and per-class clips of each of the protocol's evaluated databases."""
    scheme = load_scheme(protocol)
    clips = protocol_clips(data_dir, scheme)
    rows = []
    for database in scheme.evaluated:
        mine = clips[clips["database"] == database]
        per_class = mine["label"].value_counts()
        rows.append(
            Counts(
                name=database,
                ingested=manifest_path(data_dir, database).exists(),
                subjects=mine["subject"].nunique(),
                classes={c: int(per_class.get(c, 0)) for c in scheme.classes},
                expected=dict(scheme.expected.get(database, {})),
            )
        )
    return ProtocolStats(protocol=scheme.name, classes=scheme.classes, databases=rows)


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
