"""What the commands of both CLIs (`mepipe`, `mepipe-train`) share: input errors printed
plainly with a non-zero exit, and the options every data command takes."""

from __future__ import annotations

import sys
from pathlib import Path

import click

from mepipe.errors import MepipeError
from mepipe.untrusted import printable


class ErrorReportingGroup(click.Group):
    """A click group that prints MepipeError as `Error: <file>, row N: <what>` and exits 1.

    Users of these tools point them at hand-unpacked archives: they need the file and the
    problem, not a traceback. The message is shown escaped (mepipe.untrusted): it often
    quotes a cell or a file of the release.
    """

    def invoke(self, ctx: click.Context):
        try:
            return super().invoke(ctx)
        except MepipeError as exc:
            click.secho(f"Error: {printable(exc)}", fg="red", err=True)
            sys.exit(1)


data_option = click.option(
    "--data",
    "data_dir",
    required=True,
    type=click.Path(file_okay=False, path_type=Path),
    help="the data folder that `mepipe ingest --out` wrote",
)
protocol_option = click.option(
    "--protocol", default="cde", show_default=True, help="a scheme in manifests/schemes/"
)
