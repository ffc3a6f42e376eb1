"""Write-then-rename helpers: a crash never leaves a half-written file under its real name.

Files get the mode the user's umask gives a new file (0644 under the usual 022), as `open`
would: a lab shares its data folder. `tempfile.mkstemp` would make every file 0600.
A write that fails (full disk, read-only folder) raises MepipeError naming the file.
"""

from __future__ import annotations

import contextlib
import json
import os
import secrets
import shutil
from collections.abc import Iterator
from pathlib import Path
from typing import Any

from mepipe.errors import MepipeError


def _new_temporary(path: Path, suffix: str) -> Path:
    """Create an empty, unused `.<name>.<random><suffix>` beside `path`, mode 0666 less umask."""
    while True:
        tmp = path.with_name(f".{path.name}.{secrets.token_hex(4)}{suffix}")
        try:
            os.close(os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o666))
        except FileExistsError:
            continue
        return tmp


@contextlib.contextmanager
def atomic_path(path: str | Path, suffix: str = ".tmp") -> Iterator[Path]:
    """Yield a temporary path beside `path`; rename it over `path` only if the block succeeds.

    `suffix` ends the temporary name (a writer that picks the format by suffix needs it).

    An OSError while writing (no space left, read-only, `path` under a file) becomes
    MepipeError("cannot write (...)", path): one line for the user, and the old `path`
    is untouched.
    """
    path = Path(path)
    tmp_path: Path | None = None
    try:
        path.parent.mkdir(parents=True, exist_ok=True)
        tmp_path = _new_temporary(path, suffix)
        yield tmp_path
        os.replace(tmp_path, path)
    except OSError as exc:
        raise MepipeError(f"cannot write ({exc.strerror or exc})", path) from None
    finally:
        if tmp_path is not None and tmp_path.exists():
            tmp_path.unlink()


def link_or_copy(source: str | Path, target: str | Path) -> None:
    """A hard link of `source` at `target`, or a copy where the file system cannot link.
    Safe for files that are only ever replaced by rename, never rewritten in place."""
    try:
        os.link(source, target)
    except OSError:
        shutil.copy2(source, target)


def write_bytes(path: str | Path, data: bytes) -> None:
    with atomic_path(path) as tmp:
        tmp.write_bytes(data)


def write_json(path: str | Path, obj: Any) -> None:
    write_bytes(path, (json.dumps(obj, indent=2, sort_keys=True, default=str) + "\n").encode())


def write_parquet(path: str | Path, frame: Any) -> None:
    """Write a pandas DataFrame as Parquet atomically (no index, stable column order)."""
    with atomic_path(path) as tmp:
        frame.to_parquet(tmp, index=False)
