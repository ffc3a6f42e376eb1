"""One error type for bad input, so the CLI can print it plainly and exit non-zero.

A researcher pointing mepipe at a hand-unpacked archive needs to know *which file* (and
which row) is wrong and *what* is wrong, not a traceback.
"""

from __future__ import annotations

from pathlib import Path


class MepipeError(Exception):
    """Fatal problem with the user's input: names the file (and row) and what is wrong."""

    def __init__(self, message: str, path: str | Path | None = None, row: int | None = None):
        self.message = message
        self.path = str(path) if path is not None else None
        self.row = row
        super().__init__(str(self))

    def __str__(self) -> str:
        where = ""
        if self.path is not None:
            where = self.path + (f", row {self.row}" if self.row is not None else "") + ": "
        return where + self.message


def one_line(what: BaseException | str, limit: int = 200) -> str:
    """An exception's message (or any text) on one line, cut to `limit` characters: library
    messages (torch, pyarrow) run to many lines, and an `Error:` line must stay one line."""
    text = " ".join(str(what).split()) or type(what).__name__
    return text if len(text) <= limit else text[: limit - 3] + "..."


class OptionError(MepipeError, ValueError):
    """A bad option value, from the command line, from Python or from a saved configuration;
    the message names the option (`--size must be >= 16, got 8`).

    The one error type for option values of both CLIs: a MepipeError, so the commands print
    it as one line and exit 1; a ValueError, so Python callers may catch it as one.
    """
