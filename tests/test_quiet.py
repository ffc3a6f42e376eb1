"""mediapipe's native log lines stay off the terminal (mepipe.quiet), in the commands too.

Each check runs a child process with its stderr on a pipe, the way a terminal sees it: the
native lines are written by C++ straight to file descriptor 2, which an in-process capture
would not show faithfully.
"""

from __future__ import annotations

import os
import re
import subprocess
import sys
from pathlib import Path

from mepipe.quiet import NATIVE_LOG_ENV

# What mediapipe 0.10.21 (TFLite, absl) prints when a model is built and first run.
NATIVE_LINE = re.compile(
    r"XNNPACK|absl::InitializeLog|inference_feedback_manager|landmark_projection_calculator"
    r"|^[IWEF]\d{4} ",
    re.MULTILINE,
)

_MECHANISM = """
import os, sys, threading
from mepipe.quiet import native_logs_hidden

print("python before", file=sys.stderr, flush=True)
with native_logs_hidden():
    os.write(2, b"native inside\\n")
    print("python inside", file=sys.stderr, flush=True)
    with native_logs_hidden():  # nested: still hidden after the inner one ends
        os.write(2, b"native nested\\n")
    os.write(2, b"native after nested\\n")
    thread = threading.Thread(target=lambda: print("thread inside", file=sys.stderr, flush=True))
    thread.start()
    thread.join()

@native_logs_hidden()
def call():
    os.write(2, b"native in decorated call\\n")

call()
os.write(2, b"native outside\\n")
print("python after", file=sys.stderr, flush=True)
"""


def _child_env(log: Path | None = None) -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if k != NATIVE_LOG_ENV}
    if log is not None:
        env[NATIVE_LOG_ENV] = str(log)
    return env


def test_native_writes_go_to_the_log_and_python_writes_to_the_terminal(tmp_path: Path):
    log = tmp_path / "native.log"
    child = subprocess.run(
        [sys.executable, "-c", _MECHANISM],
        env=_child_env(log),
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert child.returncode == 0, child.stderr
    assert child.stderr.splitlines() == [
        "python before",
        "python inside",
        "thread inside",
        "native outside",
        "python after",
    ]
    assert log.read_text().splitlines() == [
        "native inside",
        "native nested",
        "native after nested",
        "native in decorated call",
    ]


def test_without_a_log_native_writes_are_dropped(tmp_path: Path):
    child = subprocess.run(
        [sys.executable, "-c", _MECHANISM],
        env=_child_env(),
        capture_output=True,
        text=True,
        timeout=60,
        cwd=tmp_path,
    )
    assert child.returncode == 0, child.stderr
    assert "native inside" not in child.stderr
    assert "native outside" in child.stderr
    assert list(tmp_path.iterdir()) == []


def _mepipe(*args: str, env: dict[str, str]) -> str:
    """Run `mepipe ARGS` as a user would; its stdout and stderr, together."""
    child = subprocess.run(
        [sys.executable, "-m", "mepipe", *args],
        env=env,
        capture_output=True,
        text=True,
        timeout=300,
    )
    output = child.stdout + child.stderr
    assert child.returncode == 0, output[-3000:]
    return output


def test_ingest_and_show_print_no_native_log_line(demo_raw, tmp_path: Path):
    root, _ = demo_raw
    log = tmp_path / "native.log"
    # Worker processes, with the lines sent to a log: they are there, not on the terminal.
    out = _mepipe(
        "ingest",
        "casme2",
        str(root / "casme2"),
        "--out",
        str(tmp_path / "a"),
        "--workers",
        "2",
        env=_child_env(log),
    )
    assert not NATIVE_LINE.search(out), out
    assert "clips aligned" in out
    assert len(re.findall("XNNPACK", log.read_text())) >= 2  # one per worker at least
    # In this process (one worker), no log: dropped.
    out = _mepipe(
        "ingest",
        "smic",
        str(root / "smic"),
        "--out",
        str(tmp_path / "b"),
        "--workers",
        "1",
        env=_child_env(),
    )
    assert not NATIVE_LINE.search(out), out
    sheet = tmp_path / "sheet.png"
    out = _mepipe(
        "show",
        "--data",
        str(tmp_path / "a"),
        "--db",
        "casme2",
        "--out",
        str(sheet),
        env=_child_env(),
    )
    assert not NATIVE_LINE.search(out), out
    assert sheet.stat().st_size > 0
