"""`mepipe show`: a contact sheet of aligned clips (`mepipe.sheet.write_contact_sheet`)."""

from __future__ import annotations

from pathlib import Path

import click

from mepipe.cli.common import data_option
from mepipe.contract.manifest import MANIFEST_NAME, manifest_path
from mepipe.errors import MepipeError
from mepipe.sheet import write_contact_sheet


@click.command("show")
@data_option
@click.option("--db", "database", required=True, help="database to show (casme2, samm, ...)")
@click.option(
    "--out", required=True, type=click.Path(dir_okay=False, path_type=Path), help="PNG to write"
)
@click.option("--limit", default=24, show_default=True, help="at most this many clips")
@click.option("--key", "keys", multiple=True, help="show these clip keys (repeatable)")
@click.option(
    "--landmarks", is_flag=True, help="add the raw neutral frame with the detected points"
)
@click.option(
    "--motion/--no-motion",
    default=True,
    show_default=True,
    help="add the amplified difference apex - neutral and, if the shards hold flow, the flow",
)
def show_command(
    data_dir: Path,
    database: str,
    out: Path,
    limit: int,
    keys: tuple[str, ...],
    landmarks: bool,
    motion: bool,
) -> None:
    """Write a contact sheet (PNG): per clip the aligned neutral and five expression frames,
    label and subject, then the motion columns (apex - neutral x5, flow colours)."""
    db_dir = data_dir / database
    if not manifest_path(data_dir, database).exists():
        raise MepipeError(f"no {MANIFEST_NAME} for database '{database}'", db_dir)
    sheet = write_contact_sheet(db_dir, out, limit, keys, landmarks, motion)
    click.echo(f"wrote {out} ({sheet.width}x{sheet.height})")
