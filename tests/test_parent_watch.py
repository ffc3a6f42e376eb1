"""Worker processes end with the process that started them, even after `kill -9`."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent

# The pool `mepipe ingest` aligns with, two workers busy for five minutes.
_POOL = """
import time
from mepipe.shards import ShardOptions
from mepipe.shards.write import worker_pool
pool = worker_pool(ShardOptions(), 2)
futures = [pool.submit(time.sleep, 300) for _ in range(2)]
while not all(f.running() for f in futures):
    time.sleep(0.05)
print("busy", flush=True)
time.sleep(300)
"""


def live_children(pid: int) -> dict[int, str]:
    """Processes whose parent is `pid` and that are not zombies: pid -> command line."""
    found = {}
    for entry in Path("/proc").iterdir():
        if not entry.name.isdigit():
            continue
        try:
            stat = (entry / "stat").read_text()
            cmdline = (entry / "cmdline").read_bytes().replace(b"\0", b" ").decode()
        except OSError:  # gone meanwhile
            continue
        state, ppid = stat.rpartition(")")[2].split()[:2]
        if int(ppid) == pid and state != "Z":
            found[int(entry.name)] = cmdline
    return found


def alive(pid: int) -> bool:
    try:
        state = Path(f"/proc/{pid}/stat").read_text().rpartition(")")[2].split()[0]
    except OSError:
        return False
    return state != "Z"


def test_workers_and_their_resource_tracker_exit_when_the_parent_is_killed():
    env = {**os.environ, "PYTHONPATH": str(ROOT), "OMP_NUM_THREADS": "1"}
    parent = subprocess.Popen(
        [sys.executable, "-c", _POOL],
        env=env,
        stdout=subprocess.PIPE,
        stderr=subprocess.DEVNULL,
        text=True,
    )
    try:
        assert parent.stdout is not None and parent.stdout.readline().strip() == "busy"
        deadline = time.monotonic() + 60
        while len(children := live_children(parent.pid)) < 3 and time.monotonic() < deadline:
            time.sleep(0.1)
        workers = [pid for pid, cmd in children.items() if "spawn_main" in cmd]
        tracker = [pid for pid, cmd in children.items() if "resource_tracker" in cmd]
        assert len(workers) == 2 and len(tracker) == 1, children
        time.sleep(2.0)  # let the workers get past their initializer, into their task
    finally:
        parent.send_signal(signal.SIGKILL)
        parent.wait()
        parent.stdout.close()
    deadline = time.monotonic() + 10
    while any(alive(pid) for pid in children) and time.monotonic() < deadline:
        time.sleep(0.1)
    left = [pid for pid in children if alive(pid)]
    for pid in left:  # do not leave them behind if the test fails
        os.kill(pid, signal.SIGKILL)
    assert not left, "processes outlived their parent: " + ", ".join(children[p] for p in left)
