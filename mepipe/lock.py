"""One writer at a time per output: an exclusive lock that says who holds it.

`filelock` (flock on Linux and macOS, its equivalent on Windows): the system drops the lock
when its holder exits, even by `kill -9`, so a lock is never stale and needs no clean-up.
The holder writes its pid, host, start time and command beside the lock, in
`<lock>.holder`, so that a second run can say who is in its way.
"""

from __future__ import annotations

import contextlib
import json
import os
import shlex
import socket
import sys
from collections.abc import Iterator
from datetime import datetime
from pathlib import Path

from filelock import FileLock, Timeout

from mepipe.atomic import write_json
from mepipe.errors import MepipeError


def holder_path(lock: Path) -> Path:
    return lock.with_name(lock.name + ".holder")


def _holder_text(lock: Path) -> str:
    """Who holds `lock`, in one line, as its holder wrote it."""
    try:
        info = json.loads(holder_path(lock).read_text())
        return (
            f"pid {info['pid']} on {info['host']}, started {info['started']}, "
            f"command: {info['command']}"
        )
    except (OSError, ValueError, TypeError, KeyError):
        return "a process that has not yet said who it is"


@contextlib.contextmanager
def exclusive_lock(path: Path, guarded: Path) -> Iterator[None]:
    """Hold the lock `path` for the block; MepipeError naming `guarded` (what the lock
    protects) and the holder if another process has it. Never waits."""
    lock = FileLock(path, timeout=0)
    try:
        path.parent.mkdir(parents=True, exist_ok=True)
        lock.acquire()
    except Timeout:
        raise MepipeError(
            f"another run is writing here ({_holder_text(path)}); wait for it to end", guarded
        ) from None
    except OSError as exc:
        raise MepipeError(f"cannot open the lock file ({exc.strerror or exc})", path) from None
    try:
        info = {
            "pid": os.getpid(),
            "host": socket.gethostname(),
            "started": datetime.now().astimezone().isoformat(timespec="seconds"),
            "command": shlex.join(sys.argv),
        }
        with contextlib.suppress(MepipeError):  # a full disk must not stop the run here
            write_json(holder_path(path), info)
        yield
    finally:
        with contextlib.suppress(OSError):
            holder_path(path).unlink()  # before the release: never a stale holder
        lock.release()
