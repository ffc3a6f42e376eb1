"""Placeholder: `mepipe stats` is being built (see the issues)."""

import click


@click.command("stats")
def stats_command() -> None:
    """Not built yet."""
    raise click.ClickException("mepipe stats is not built yet")
