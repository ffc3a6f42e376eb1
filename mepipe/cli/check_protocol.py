"""`mepipe check-protocol`: prints the differences `mepipe.check_protocol.compare` finds
between the ingested composite set and the official list; any difference exits 1."""

from __future__ import annotations

import sys
from pathlib import Path

import click
from rich.console import Console
from rich.table import Table
from rich.text import Text

from mepipe.check_protocol import KINDS, Difference, compare, read_reference
from mepipe.cli.common import data_option
from mepipe.protocols import load_scheme
from mepipe.untrusted import markup_safe, printable


def _table(differences: list[Difference]) -> Table:
    table = Table(title=f"{len(differences)} differences from the reference list")
    table.add_column("", no_wrap=True)
    # A key is what a user searches for: never cut it short, even on a narrow terminal.
    table.add_column("clip", no_wrap=True, min_width=max(len(d.key) for d in differences))
    for heading in ("reference", "yours", "note"):
        table.add_column(heading)
    colours = {"missing": "red", "extra": "yellow", "mislabelled": "magenta", "known gap": "cyan"}
    for d in differences:
        # Keys, labels and notes quote the list and the manifests: never markup.
        cells = (d.key, d.reference or "", d.yours or "", d.note)
        table.add_row(f"[{colours[d.kind]}]{d.kind}[/]", *(Text(printable(c)) for c in cells))
    return table


@click.command("check-protocol")
@data_option
@click.option(
    "--reference",
    required=True,
    type=click.Path(dir_okay=False, path_type=Path),
    help="the official MEGC 2019 clip list (csv, no header)",
)
@click.option("--protocol", default="cde", show_default=True, help="the scheme the list is in")
def check_protocol_command(data_dir: Path, reference: Path, protocol: str) -> None:
    """Compare your composite clips with the official list; exit 1 on any difference
    (a clip that a known version of the list lacks is named, and is not a difference)."""
    scheme = load_scheme(protocol)
    clips = read_reference(reference, scheme)
    differences = compare(data_dir, clips, scheme)
    console = Console()
    gaps = [d for d in differences if d.kind == "known gap"]
    if len(gaps) == len(differences):
        console.print(f"[green]all {len(clips)} clips match {markup_safe(reference.name)}[/]")
        for gap in gaps:
            console.print(f"[cyan]{markup_safe(gap.key)}[/] ({gap.yours}) is not in it, {gap.note}")
        return
    console.print(_table(differences))
    counts = {k: sum(d.kind == k for d in differences) for k in KINDS}
    console.print(", ".join(f"{n} {k}" for k, n in counts.items() if n or k != "known gap"))
    sys.exit(1)
