"""Placeholder: `mepipe verify` is being built (see the issues)."""

import click


@click.command("verify")
def verify_command() -> None:
    """Not built yet."""
    raise click.ClickException("mepipe verify is not built yet")
