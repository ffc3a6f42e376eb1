"""The output of `mepipe ingest`: one run per database at a time, a new version that replaces
the old one only once complete (a failed or killed run changes nothing), and one `Error:`
line naming the path when the output cannot be written."""

from __future__ import annotations

import errno
import os
import shutil
import signal
import socket
import subprocess
import sys
from pathlib import Path

import pandas as pd
import pytest
from click.testing import CliRunner

import mepipe.contract.sample as sample_writer
from mepipe.cli import main
from mepipe.staging import DatabaseOutput, database_output

ROOT = Path(__file__).resolve().parent.parent
ENV = {**os.environ, "PYTHONPATH": str(ROOT), "OMP_NUM_THREADS": "1"}
ALIGN = ("--size", "48", "--workers", "1")


@pytest.fixture(scope="module")
def release(tmp_path_factory) -> Path:
    from mepipe.demo.micro import write_casme2

    root = tmp_path_factory.mktemp("raw") / "CASME2"
    write_casme2(root, subjects=2, clips_per_subject=2)
    return root


def run(*args: str):
    result = CliRunner().invoke(main, list(args))
    assert result.exception is None or isinstance(result.exception, SystemExit), result.exception
    return result


def ingest(release: Path, out: Path, *extra: str):
    return run("ingest", "casme2", str(release), "--out", str(out), *ALIGN, *extra)


@pytest.fixture(scope="module")
def good_data(release, tmp_path_factory) -> Path:
    """A data folder with a good (jpg) ingest of the release; tests work on copies."""
    out = tmp_path_factory.mktemp("good") / "data"
    assert ingest(release, out).exit_code == 0
    return out


@pytest.fixture
def data(good_data, tmp_path) -> Path:
    return shutil.copytree(good_data, tmp_path / "data")


def files_of(db: Path) -> dict[str, bytes]:
    return {str(p.relative_to(db)): p.read_bytes() for p in sorted(db.rglob("*")) if p.is_file()}


def error_lines(output: str) -> list[str]:
    return [line for line in output.splitlines() if line.startswith("Error:")]


# --- item 4: a failed re-ingest leaves the good data as it was ----------------------------


def test_a_full_disk_during_a_reingest_keeps_the_previous_data(release, data, monkeypatch):
    before = files_of(data / "casme2")
    real_add = sample_writer._add_member

    def full_disk(tar, name, member):
        if not name.startswith("casme2__sub01__"):  # the second shard
            raise OSError(errno.ENOSPC, os.strerror(errno.ENOSPC))
        real_add(tar, name, member)

    monkeypatch.setattr(sample_writer, "_add_member", full_disk)
    failed = ingest(release, data, "--format", "png")
    assert failed.exit_code == 1
    shard = data / ".ingest" / "casme2" / "shards" / "sub02-000000.tar"
    assert error_lines(failed.output) == [
        f"Error: {shard}: cannot write (No space left on device); {data / 'casme2'} is unchanged"
    ]
    assert files_of(data / "casme2") == before  # manifest, report, index and shards
    assert run("verify", "--data", str(data)).exit_code == 0

    # Space again: the rerun keeps the finished png shard of the failed run, and switches.
    kept = (data / ".ingest" / "casme2" / "shards" / "sub01-000000.tar").stat().st_ino
    monkeypatch.setattr(sample_writer, "_add_member", real_add)
    assert ingest(release, data, "--format", "png").exit_code == 0
    assert (data / "casme2" / "shards" / "sub01-000000.tar").stat().st_ino == kept
    manifest = pd.read_parquet(data / "casme2" / "manifest.parquet")
    assert all(members[0].endswith(".neutral.png") for members in manifest["members"])
    assert run("verify", "--data", str(data)).exit_code == 0
    assert not (data / ".ingest" / "casme2").exists()


_KILLED_INGEST = """
import os, signal, sys
import mepipe.contract.sample as write
from mepipe.ingest import ingest_database
from mepipe.shards import ShardOptions

real_add_member = write._add_member

def dying_add_member(tar, name, data):
    if not name.startswith("casme2__sub01__"):  # the first member of the second shard
        tar.fileobj.flush()
        os.kill(os.getpid(), signal.SIGKILL)
    real_add_member(tar, name, data)

write._add_member = dying_add_member
options = ShardOptions(size=48, format="png")
ingest_database("casme2", sys.argv[1], sys.argv[2], shard_options=options, workers=1)
"""


def test_kill_9_during_a_reingest_keeps_the_previous_data_and_resumes(release, data, tmp_path):
    before = files_of(data / "casme2")
    child = subprocess.run(
        [sys.executable, "-c", _KILLED_INGEST, str(release), str(data)],
        env=ENV,
        capture_output=True,
        timeout=300,
    )
    assert child.returncode == -signal.SIGKILL, child.stderr.decode()[-2000:]
    assert files_of(data / "casme2") == before
    assert run("verify", "--data", str(data)).exit_code == 0

    assert ingest(release, data, "--format", "png").exit_code == 0
    clean = tmp_path / "clean"
    assert ingest(release, clean, "--format", "png").exit_code == 0
    shards = "casme2/shards"
    assert files_of(data / shards) == files_of(clean / shards)
    assert run("verify", "--data", str(data)).exit_code == 0


def test_a_reingest_links_unchanged_shards_and_keeps_other_files(release, data):
    shard = data / "casme2" / "shards" / "sub01-000000.tar"
    inode = shard.stat().st_ino
    (data / "casme2" / "notes.txt").write_text("lighting was odd on day 2\n")
    (data / "casme2" / "sheets").mkdir()
    (data / "casme2" / "sheets" / "casme2.png").write_bytes(b"png")
    assert ingest(release, data).exit_code == 0
    assert shard.stat().st_ino == inode  # the same file, not a copy
    assert (data / "casme2" / "notes.txt").read_text() == "lighting was odd on day 2\n"
    assert (data / "casme2" / "sheets" / "casme2.png").read_bytes() == b"png"
    assert sorted(p.name for p in (data / ".ingest").iterdir()) == ["casme2.lock"]


def test_a_manifest_only_reingest_keeps_the_shards_for_the_next_aligned_run(release, data):
    shard = data / "casme2" / "shards" / "sub01-000000.tar"
    inode = shard.stat().st_ino
    assert ingest(release, data, "--no-align").exit_code == 0
    assert "shard" not in pd.read_parquet(data / "casme2" / "manifest.parquet").columns
    assert ingest(release, data).exit_code == 0
    assert shard.stat().st_ino == inode  # reused, not aligned again
    assert run("verify", "--data", str(data)).exit_code == 0


# --- the switch: one step, or two renames that the next run repairs -------------------------


def make_version(folder: Path, text: str) -> None:
    folder.mkdir(parents=True)
    (folder / "manifest.parquet").write_text(text)


def test_the_switch_without_an_exchanging_rename(tmp_path, monkeypatch):
    monkeypatch.setattr("mepipe.staging._exchange", lambda a, b: False)
    output = DatabaseOutput(tmp_path, "casme2")
    make_version(output.live, "old")
    make_version(output.staging, "new")
    output.publish()
    assert (output.live / "manifest.parquet").read_text() == "new"
    assert not output.staging.exists() and not output.previous.exists()


def test_the_switch_in_one_exchanging_rename(tmp_path, monkeypatch):
    import mepipe.staging as staging

    swaps = []
    real_exchange = staging._exchange

    def exchange(a: Path, b: Path) -> bool:
        swaps.append(real_exchange(a, b))
        return swaps[-1]

    monkeypatch.setattr(staging, "_exchange", exchange)
    output = DatabaseOutput(tmp_path, "casme2")
    make_version(output.live, "old")
    make_version(output.staging, "new")
    output.publish()
    assert swaps == [True]  # Linux: renameat2(RENAME_EXCHANGE)
    assert (output.live / "manifest.parquet").read_text() == "new"
    assert not output.staging.exists() and not output.previous.exists()


def test_a_switch_cut_between_its_renames_is_repaired_by_the_next_run(tmp_path):
    output = DatabaseOutput(tmp_path, "casme2")
    make_version(output.previous, "old")  # crashed after the first rename
    with database_output(tmp_path, "casme2"):
        pass
    assert (output.live / "manifest.parquet").read_text() == "old"
    make_version(output.previous, "older")  # crashed after the second rename
    with database_output(tmp_path, "casme2"):
        pass
    assert (output.live / "manifest.parquet").read_text() == "old"
    assert not output.previous.exists()


# --- item 3: one ingest per database at a time ------------------------------------------


_HOLDER = """
import sys
from mepipe.staging import database_output

with database_output(sys.argv[1], "casme2"):
    print("holding", flush=True)
    sys.stdin.readline()
"""


def test_a_second_ingest_fails_at_once_naming_the_run_that_holds_the_output(release, tmp_path):
    out = tmp_path / "data"
    with subprocess.Popen(
        [sys.executable, "-c", _HOLDER, str(out)],
        env=ENV,
        stdin=subprocess.PIPE,
        stdout=subprocess.PIPE,
        text=True,
    ) as holder:
        assert holder.stdin is not None and holder.stdout is not None
        assert holder.stdout.readline().strip() == "holding"
        second = subprocess.run(
            [sys.executable, "-m", "mepipe", "ingest", "casme2", str(release), "--out", str(out)],
            env=ENV,
            capture_output=True,
            text=True,
            timeout=120,
        )
        holder.stdin.close()  # the holder's run ends
    assert second.returncode == 1
    (line,) = second.stderr.strip().splitlines()
    assert line.startswith(f"Error: {out / 'casme2'}: another run is writing here (pid ")
    assert f"pid {holder.pid} on {socket.gethostname()}, started 20" in line
    assert f"command: -c {out}" in line and line.endswith("wait for it to end")
    assert not (out / "casme2").exists()
    # Once the first run is over, the lock is free (the kernel drops it even after kill -9).
    assert ingest(release, out, "--no-align").exit_code == 0


# --- item 12: output that cannot be written -------------------------------------------------


def test_out_pointing_at_a_file(release, tmp_path):
    out = tmp_path / "data"
    out.write_text("not a folder")
    result = ingest(release, out)
    assert result.exit_code == 1
    assert error_lines(result.output) == [f"Error: {out}: is a file; --out must be a folder"]


def read_only(monkeypatch, folder: Path) -> None:
    """Make creating or writing anything under `folder` fail as on a read-only mount (a
    real one needs root to set up, and root ignores permission bits)."""
    writing = os.O_WRONLY | os.O_RDWR | os.O_CREAT

    def refuse(path) -> None:
        if Path(path).resolve().is_relative_to(folder.resolve()):
            raise OSError(errno.EROFS, os.strerror(errno.EROFS), str(path))

    real_mkdir, real_open, real_rename = os.mkdir, os.open, os.rename

    def mkdir(path, *args, **kwargs):
        refuse(path)
        return real_mkdir(path, *args, **kwargs)

    def open_(path, flags, *args, **kwargs):
        if flags & writing:
            refuse(path)
        return real_open(path, flags, *args, **kwargs)

    def rename(source, target, *args, **kwargs):
        refuse(target)
        return real_rename(source, target, *args, **kwargs)

    monkeypatch.setattr(os, "mkdir", mkdir)
    monkeypatch.setattr(os, "open", open_)
    monkeypatch.setattr(os, "rename", rename)


def test_a_read_only_output_folder(release, tmp_path, monkeypatch):
    out = tmp_path / "data"
    out.mkdir()
    read_only(monkeypatch, out)
    result = ingest(release, out)
    assert result.exit_code == 1
    lock = out / ".ingest" / "casme2.lock"
    assert error_lines(result.output) == [
        f"Error: {lock}: cannot open the lock file (Read-only file system)"
    ]


def test_no_space_left_for_the_manifest(release, data, monkeypatch):
    before = files_of(data / "casme2")

    def full_disk(self, path, **kwargs):
        raise OSError(errno.ENOSPC, os.strerror(errno.ENOSPC))

    monkeypatch.setattr(pd.DataFrame, "to_parquet", full_disk)
    result = ingest(release, data, "--no-align")
    assert result.exit_code == 1
    manifest = data / ".ingest" / "casme2" / "manifest.parquet"
    assert error_lines(result.output) == [
        f"Error: {manifest}: cannot write (No space left on device); {data / 'casme2'} is unchanged"
    ]
    assert files_of(data / "casme2") == before
