"""Placeholder: `mepipe split` is being built (see the issues)."""

import click


@click.group("split")
def split_group() -> None:
    """Not built yet."""
