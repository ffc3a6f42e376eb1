"""Placeholder: `mepipe ingest` is being built (see the issues)."""

import click


@click.command("ingest")
def ingest_command() -> None:
    """Not built yet."""
    raise click.ClickException("mepipe ingest is not built yet")
