"""One writer at a time per output: an exclusive lock that says who holds it.

`fcntl.flock` on a lock file: the kernel drops the lock when its holder exits, even by
`kill -9`, so a lock is never stale and needs no clean-up. The holder writes its pid, host,
start time and command into the file, so that a second run can say who is in its way.
"""

from __future__ import annotations

import contextlib
import fcntl
import json
import os
import shlex
import socket
import sys
from collections.abc import Iterator
from datetime import datetime
from pathlib import Path

from mepipe.errors import MepipeError


def _holder_text(fd: int) -> str:
    """The holder's description as the lock file has it, in one line."""
    try:
        info = json.loads(os.pread(fd, 64 * 1024, 0))
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
    try:
        path.parent.mkdir(parents=True, exist_ok=True)
        fd = os.open(path, os.O_RDWR | os.O_CREAT, 0o666)
    except OSError as exc:
        raise MepipeError(f"cannot open the lock file ({exc.strerror or exc})", path) from None
    try:
        try:
            fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError:
            raise MepipeError(
                f"another run is writing here ({_holder_text(fd)}); wait for it to end",
                guarded,
            ) from None
        info = {
            "pid": os.getpid(),
            "host": socket.gethostname(),
            "started": datetime.now().astimezone().isoformat(timespec="seconds"),
            "command": shlex.join(sys.argv),
        }
        with contextlib.suppress(OSError):  # a full disk must not stop the lock itself
            os.ftruncate(fd, 0)
            os.pwrite(fd, (json.dumps(info) + "\n").encode(), 0)
        try:
            yield
        finally:
            with contextlib.suppress(OSError):
                os.ftruncate(fd, 0)  # no stale holder once released
    finally:
        os.close(fd)  # releases the lock
