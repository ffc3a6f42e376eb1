"""Atomic writes: the umask decides file modes (a lab shares its data folder), and a failed
write names its file and leaves the old one as it was."""

from __future__ import annotations

import contextlib
import errno
import os
import stat
from collections.abc import Iterator
from pathlib import Path

import pandas as pd
import pytest

from mepipe.atomic import atomic_path, write_bytes, write_json, write_parquet
from mepipe.errors import MepipeError

MODES = [(0o022, 0o644), (0o077, 0o600), (0o002, 0o664)]


@contextlib.contextmanager
def umask(value: int) -> Iterator[None]:
    old = os.umask(value)
    try:
        yield
    finally:
        os.umask(old)


def mode_of(path: Path) -> int:
    return stat.S_IMODE(path.stat().st_mode)


@pytest.mark.parametrize(("mask", "mode"), MODES, ids=["022", "077", "002"])
def test_written_files_get_the_mode_the_umask_gives(tmp_path, mask, mode):
    with umask(mask):
        write_bytes(tmp_path / "a.bin", b"x")
        write_json(tmp_path / "b.json", {"x": 1})
        write_parquet(tmp_path / "c.parquet", pd.DataFrame({"x": [1]}))
        with atomic_path(tmp_path / "d.pt") as tmp:
            tmp.write_bytes(b"checkpoint")
        write_bytes(tmp_path / "a.bin", b"y")  # replacing a file as well
    assert {p.name: mode_of(p) for p in tmp_path.iterdir()} == dict.fromkeys(
        ["a.bin", "b.json", "c.parquet", "d.pt"], mode
    )


@pytest.mark.parametrize(("mask", "mode"), MODES[:2], ids=["022", "077"])
def test_every_file_of_an_ingest_follows_the_umask(tmp_path, mask, mode):
    from mepipe.demo.micro import write_casme2
    from mepipe.ingest import ingest_database
    from mepipe.shards import ShardOptions

    write_casme2(tmp_path / "raw", subjects=2, clips_per_subject=1)
    with umask(mask):
        ingest_database(
            "casme2", tmp_path / "raw", tmp_path / "data", None, ShardOptions(size=48), 1
        )
    written = [p for p in (tmp_path / "data").rglob("*") if p.is_file()]
    assert {p.name for p in written} >= {
        "manifest.parquet",
        "ingest_report.json",
        "index.json",
        "sub01-000000.tar",
        "casme2.lock",
    }
    assert {str(p): mode_of(p) for p in written} == {str(p): mode for p in written}
    folders = [p for p in (tmp_path / "data").rglob("*") if p.is_dir()]
    assert {mode_of(p) for p in folders} == {0o777 & ~mask}


def test_a_failed_write_names_the_file_and_keeps_the_old_one(tmp_path):
    target = tmp_path / "index.json"
    write_bytes(target, b"good\n")
    with pytest.raises(MepipeError) as caught, atomic_path(target) as tmp:
        tmp.write_bytes(b"half")
        raise OSError(errno.ENOSPC, os.strerror(errno.ENOSPC))
    assert str(caught.value) == f"{target}: cannot write (No space left on device)"
    assert target.read_bytes() == b"good\n"
    assert [p.name for p in tmp_path.iterdir()] == ["index.json"]  # no temporary left


def test_writing_under_a_file_is_a_clear_error(tmp_path):
    (tmp_path / "out").write_text("a file, not a folder")
    with pytest.raises(MepipeError, match="cannot write"):
        write_json(tmp_path / "out" / "metrics.json", {})
