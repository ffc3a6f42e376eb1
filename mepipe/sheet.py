"""Placeholder: `mepipe show` is being built (see the issues)."""

import click


@click.command("show")
def show_command() -> None:
    """Not built yet."""
    raise click.ClickException("mepipe show is not built yet")
