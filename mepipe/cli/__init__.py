"""`mepipe` command line. Each command lives in its own module of this package, a thin layer
over the library function that does the work (docs/architecture.md); this file only
assembles them and turns input errors into a plain message and a non-zero exit."""

from __future__ import annotations

import click

from mepipe.cli.common import ErrorReportingGroup


@click.group(cls=ErrorReportingGroup)
@click.version_option(package_name="mepipe")
def main() -> None:
    """Turn raw facial-expression releases into aligned, versioned training data."""


def _register() -> None:
    from mepipe.cli.check_protocol import check_protocol_command
    from mepipe.cli.demo import demo_command, demo_data_command
    from mepipe.cli.ingest import ingest_command
    from mepipe.cli.predict import predict_command
    from mepipe.cli.show import show_command
    from mepipe.cli.split import split_group
    from mepipe.cli.stats import stats_command
    from mepipe.cli.verify import verify_command

    for command in (
        ingest_command,
        split_group,
        stats_command,
        check_protocol_command,
        verify_command,
        show_command,
        predict_command,
        demo_data_command,
        demo_command,
    ):
        main.add_command(command)


_register()
