"""Keep mediapipe's native log lines off the terminal.

mediapipe's C++ side (TFLite, absl logging) writes lines such as `INFO: Created TensorFlow
Lite XNNPACK delegate for CPU` and `W0000 ... inference_feedback_manager.cc:114] ...`
straight to file descriptor 2 when a model is built and on its first frames, in every
process that builds one. No Python logging setting reaches them, and mediapipe 0.10.21
ignores GLOG_minloglevel and TF_CPP_MIN_LOG_LEVEL, so they would land between the progress
bars of every ingest. The only handle is the descriptor itself: `native_logs_hidden` points
fd 2 at /dev/null (or at the file named by $MEPIPE_NATIVE_LOG, to read them) for the length
of one call into mediapipe, then puts it back. Worker processes inherit the variable, so one
setting covers them too.

While fd 2 is pointed away, Python's own `sys.stderr` writes to a copy of the terminal's
descriptor, so a progress bar refreshed from another thread still reaches the screen.
"""

from __future__ import annotations

import contextlib
import os
import sys
import threading
from collections.abc import Iterator
from typing import IO

NATIVE_LOG_ENV = "MEPIPE_NATIVE_LOG"

_lock = threading.Lock()
_depth = 0  # calls under way, in any thread: only the first redirects, only the last restores
_saved_fd: int | None = None  # the real fd 2 while it is pointed away
_saved_stream: IO[str] | None = None  # sys.stderr as it was, while it is swapped
_targets: dict[str, int] = {}  # opened once per process: /dev/null or the log file
# A text stream on a copy of the real fd 2, made once per terminal (fd 2's file identity)
# and never closed: a thread that still holds it after the swap back keeps writing to the
# terminal, never to a descriptor number that has since been reused.
_terminal: tuple[tuple[int, int], IO[str]] | None = None


def _target_fd() -> int:
    path = os.environ.get(NATIVE_LOG_ENV) or os.devnull
    if path not in _targets:
        _targets[path] = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_APPEND, 0o644)
    return _targets[path]


def _writes_to_fd2(stream: IO[str] | None) -> bool:
    try:
        return stream is not None and stream.fileno() == 2
    except (AttributeError, OSError, ValueError):  # io.UnsupportedOperation is an OSError
        return False


def _terminal_stream(like: IO[str]) -> IO[str]:
    global _terminal
    stat = os.fstat(2)
    identity = (stat.st_dev, stat.st_ino)
    if _terminal is None or _terminal[0] != identity:
        stream = os.fdopen(
            os.dup(2),
            "w",
            buffering=1,
            encoding=getattr(like, "encoding", None) or "utf-8",
            errors=getattr(like, "errors", None) or "backslashreplace",
        )
        _terminal = (identity, stream)
    return _terminal[1]


def _point_away() -> None:
    global _saved_fd, _saved_stream
    target = _target_fd()  # these two may raise OSError: then nothing has changed yet
    saved = os.dup(2)
    stream = sys.stderr
    if stream is not None:
        stream.flush()  # what Python wrote so far goes to the terminal, not the log
    _saved_fd = saved
    if _writes_to_fd2(stream):
        _saved_stream, sys.stderr = stream, _terminal_stream(stream)
    os.dup2(target, 2)


def _put_back() -> None:
    global _saved_fd, _saved_stream
    assert _saved_fd is not None
    if _saved_stream is not None:
        sys.stderr.flush()
        if _terminal is not None and sys.stderr is _terminal[1]:  # unless replaced meanwhile
            sys.stderr = _saved_stream
    os.dup2(_saved_fd, 2)
    os.close(_saved_fd)
    _saved_fd = _saved_stream = None


@contextlib.contextmanager
def native_logs_hidden() -> Iterator[None]:
    """Native writes to fd 2 go to /dev/null or $MEPIPE_NATIVE_LOG meanwhile; also a
    decorator (`@native_logs_hidden()`). Nests, and is safe to enter from several threads."""
    global _depth
    with _lock:
        if _depth == 0:
            # No fd 2 to save (a daemon), or a log that cannot be opened: run unredirected.
            with contextlib.suppress(OSError):
                _point_away()
        _depth += 1
    try:
        yield
    finally:
        with _lock:
            _depth -= 1
            if _depth == 0 and _saved_fd is not None:
                _put_back()
