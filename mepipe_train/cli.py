"""Placeholder: `mepipe-train` is being built."""

import click


@click.group()
def main() -> None:
    """Not built yet."""
