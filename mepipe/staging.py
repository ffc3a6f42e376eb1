"""A database's output is replaced only by a complete successor, one run at a time.

`mepipe ingest` builds the new `<data>/<db>/` (manifest, report, shards) in
`<data>/.ingest/<db>/`, beside the old one, and switches the two only when the new one is
complete. A run that fails (full disk) or is killed leaves `<data>/<db>/` exactly as it
was, and its half-built folder for the next run to resume from. Shards the new version
shares with the old are hard links, not copies.

The switch is one rename that swaps the folders (Linux `renameat2(RENAME_EXCHANGE)`); where
that is missing, two renames via `<data>/.ingest/<db>.previous/`, and the next run repairs
a crash between them. `<data>/.ingest/<db>.lock` keeps a second run out (mepipe.lock).
"""

from __future__ import annotations

import contextlib
import ctypes
import errno
import os
import shutil
import sys
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

from mepipe.atomic import link_or_copy
from mepipe.errors import MepipeError
from mepipe.lock import exclusive_lock
from mepipe.shards.plan import SHARDS_DIR

WORK_DIR = ".ingest"
REPORT = "ingest_report.json"


@dataclass(frozen=True)
class DatabaseOutput:
    """The folders of one database's output (see the module docstring)."""

    data_dir: Path
    database: str

    @property
    def live(self) -> Path:
        return self.data_dir / self.database

    @property
    def staging(self) -> Path:
        return self.data_dir / WORK_DIR / self.database

    @property
    def previous(self) -> Path:
        return self.data_dir / WORK_DIR / f"{self.database}.previous"

    @property
    def lock(self) -> Path:
        return self.data_dir / WORK_DIR / f"{self.database}.lock"

    def prepare(self, keep_shards: bool) -> Path:
        """The staging folder, emptied but for the shards of an earlier unfinished run
        (reused where they still match) if `keep_shards`."""
        self.staging.mkdir(parents=True, exist_ok=True)
        for entry in self.staging.iterdir():
            if not (keep_shards and entry.name == SHARDS_DIR):
                _remove(entry)
        return self.staging

    def publish(self) -> None:
        """Make the staging folder the live one, in one step, and delete the old version.

        What the old version has and the new one does not replace is carried over (hard
        links): a user's notes or contact sheets, and the shards when `--no-align` wrote
        only a manifest (as before, so that the next aligned run can reuse them).
        """
        if not self.live.exists():
            os.rename(self.staging, self.live)
            return
        for entry in self.live.iterdir():
            target = self.staging / entry.name
            if not entry.name.endswith(".tmp") and not os.path.lexists(target):
                _link_tree(entry, target)
        if _exchange(self.staging, self.live):
            shutil.rmtree(self.staging, ignore_errors=True)  # now the old version
            return
        os.rename(self.live, self.previous)
        try:
            os.rename(self.staging, self.live)  # a crash just before this: see recover()
        except OSError:
            os.rename(self.previous, self.live)
            raise
        shutil.rmtree(self.previous, ignore_errors=True)

    def recover(self) -> None:
        """Finish what a switch interrupted between its two renames: restore the old
        version if the new one never arrived, else drop the old one."""
        if not self.previous.exists():
            return
        if self.live.exists():
            shutil.rmtree(self.previous)
        else:
            os.rename(self.previous, self.live)


@contextlib.contextmanager
def database_output(data_dir: str | Path, database: str) -> Iterator[DatabaseOutput]:
    """Lock `<data_dir>/<database>/` for the block (MepipeError naming the holder if another
    run has it) and repair an interrupted switch. `data_dir` must be a folder."""
    data_dir = Path(data_dir)
    if data_dir.exists() and not data_dir.is_dir():
        raise MepipeError("is a file; --out must be a folder", data_dir)
    output = DatabaseOutput(data_dir, database)
    if output.live.exists() and not output.live.is_dir():
        raise MepipeError("is a file; mepipe writes a folder of this name", output.live)
    with exclusive_lock(output.lock, output.live):
        try:
            output.recover()
        except OSError as exc:
            raise MepipeError(f"cannot repair ({exc.strerror or exc})", output.previous) from None
        yield output


def _remove(path: Path) -> None:
    if path.is_dir() and not path.is_symlink():
        shutil.rmtree(path)
    else:
        path.unlink()


def _link_tree(source: Path, target: Path) -> None:
    if source.is_symlink():
        os.symlink(os.readlink(source), target)
    elif source.is_dir():
        shutil.copytree(source, target, symlinks=True, copy_function=link_or_copy)
    else:
        link_or_copy(source, target)


_AT_FDCWD = -100
_RENAME_EXCHANGE = 2


def _exchange(a: Path, b: Path) -> bool:
    """Swap two paths in one step (Linux renameat2); False where the system cannot."""
    if sys.platform != "linux":
        return False
    renameat2 = getattr(ctypes.CDLL(None, use_errno=True), "renameat2", None)
    if renameat2 is None:  # glibc before 2.28
        return False
    if renameat2(_AT_FDCWD, os.fsencode(a), _AT_FDCWD, os.fsencode(b), _RENAME_EXCHANGE) == 0:
        return True
    code = ctypes.get_errno()
    if code in (errno.EINVAL, errno.ENOSYS, errno.ENOTSUP, errno.EXDEV):
        return False  # a file system or kernel without it (overlayfs may say EXDEV)
    raise OSError(code, os.strerror(code), str(a))
