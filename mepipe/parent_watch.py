"""Worker processes end when the process that started them dies.

A `kill -9` of `mepipe ingest` gives its pool no chance to stop the workers; without this
they stay (a few hundred MB each, blocked on a queue nobody reads) until someone notices.
A daemon thread in each worker polls its parent's pid, which changes (to the reaper's) once
the parent is gone. Polling is portable, and a second is quick enough for an orphan.
"""

from __future__ import annotations

import os
import threading
import time

POLL_SECONDS = 0.5


def exit_with_parent(parent_pid: int, poll_seconds: float = POLL_SECONDS) -> None:
    """From a worker: exit at once (no cleanup to hang on) when `parent_pid` is no longer
    this process's parent."""

    def watch() -> None:
        while os.getppid() == parent_pid:
            time.sleep(poll_seconds)
        os._exit(1)

    threading.Thread(target=watch, name="exit-with-parent", daemon=True).start()
