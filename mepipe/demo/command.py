"""Placeholder: `mepipe demo-data` and `mepipe demo` are being built."""

import click


@click.command("demo-data")
def demo_data_command() -> None:
    """Not built yet."""
    raise click.ClickException("not built yet")


@click.command("demo")
def demo_command() -> None:
    """Not built yet."""
    raise click.ClickException("not built yet")
