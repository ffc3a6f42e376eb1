"""Placeholder: `mepipe check-protocol` is being built (see the issues)."""

import click


@click.command("check-protocol")
def check_protocol_command() -> None:
    """Not built yet."""
    raise click.ClickException("mepipe check-protocol is not built yet")
