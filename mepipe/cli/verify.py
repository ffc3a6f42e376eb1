"""`mepipe verify --data DIR`: the command over `mepipe.verify`; any mismatch exits 1."""

from __future__ import annotations

import sys
from pathlib import Path

import click
from rich.console import Console
from rich.progress import Progress

from mepipe.cli.common import data_option
from mepipe.contract.manifest import MANIFEST_NAME as MANIFEST
from mepipe.errors import MepipeError
from mepipe.untrusted import printable
from mepipe.verify import databases_in, verify_database


@click.command("verify")
@data_option
@click.option("--db", "databases", multiple=True, help="only these databases (repeatable)")
def verify_command(data_dir: Path, databases: tuple[str, ...]) -> None:
    """Check every shard against its sha256, its images and the manifest; exit 1 on any
    mismatch."""
    console = Console(stderr=True)
    folders = databases_in(data_dir)
    if databases:
        missing = sorted(set(databases) - {p.name for p in folders})
        if missing:
            raise MepipeError(f"no {MANIFEST} for database {', '.join(missing)}", data_dir)
        folders = [p for p in folders if p.name in databases]
    if not folders:
        raise MepipeError(f"no <db>/{MANIFEST} found", data_dir)
    problems: list[str] = []
    with Progress(console=console, transient=True) as progress:
        for folder in folders:
            problems += verify_database(folder, progress)
    for problem in problems:
        click.secho(printable(problem), fg="red")
    names = ", ".join(p.name for p in folders)
    if problems:
        click.secho(f"{len(problems)} problem(s) in {names}", fg="red", err=True)
        sys.exit(1)
    click.secho(f"all shards verified: {names}", fg="green")
