"""`mepipe` command line. Each command lives in the module that does its work; this file
only assembles them and turns input errors into a plain message and a non-zero exit."""

from __future__ import annotations

import click

from mepipe.cli_common import ErrorReportingGroup


@click.group(cls=ErrorReportingGroup)
@click.version_option(package_name="mepipe")
def main() -> None:
    """Turn raw facial-expression releases into aligned, versioned training data."""


def _register() -> None:
    from mepipe.check_protocol import check_protocol_command
    from mepipe.demo.command import demo_command, demo_data_command
    from mepipe.ingest import ingest_command
    from mepipe.sheet import show_command
    from mepipe.split import split_group
    from mepipe.stats import stats_command
    from mepipe.verify import verify_command

    for command in (
        ingest_command,
        split_group,
        stats_command,
        check_protocol_command,
        verify_command,
        show_command,
        demo_data_command,
        demo_command,
    ):
        main.add_command(command)


_register()
