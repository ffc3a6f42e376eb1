"""Shard writing: layout, contents, determinism, parallel workers, resume after kill -9."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from dataclasses import replace
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
import webdataset as wds
from align_helpers import clip_row, manifest, shard_files, small_release

from mepipe.atomic import write_parquet
from mepipe.shards import ShardOptions, run_shards
from mepipe.shards.index import read_index

OPTIONS = ShardOptions(size=64)
ROOT = Path(__file__).resolve().parent.parent


@pytest.fixture(scope="module")
def release(tmp_path_factory) -> pd.DataFrame:
    """Three subjects with two clips each, written once for the whole module."""
    return small_release(tmp_path_factory.mktemp("raw"), subjects=3, clips=2)


def test_layout_members_and_manifest_columns(tmp_path, release):
    run = run_shards(tmp_path / "casme2", release, OPTIONS, workers=1, quiet=True)
    out = run.manifest
    assert sorted(shard_files(tmp_path / "casme2")) == [
        "index.json",
        "sub01-000000.tar",
        "sub02-000000.tar",
        "sub03-000000.tar",
    ]
    assert list(out["key"]) == list(release["key"])  # same rows, same order
    first = out.iloc[0]
    assert first["shard"] == "shards/sub01-000000.tar"
    assert list(first["members"]) == [
        f"{first['key']}.{suffix}"
        for suffix in ("neutral.jpg", "e0.jpg", "e1.jpg", "e2.jpg", "e3.jpg", "e4.jpg", "json")
    ]
    assert len(first["landmarks"]) == 10 and len(first["transform"]) == 6
    assert first["detect_frame"] == first["neutral_frame"]

    # WebDataset reads the shards as they are: one sample per clip, images at --size.
    urls = [str(tmp_path / "casme2" / "shards" / f"sub0{s}-000000.tar") for s in (1, 2, 3)]
    samples = list(wds.WebDataset(urls, shardshuffle=False).decode("rgb8"))
    assert [s["__key__"] for s in samples] == sorted(release["key"])
    sample = samples[0]
    assert sample["neutral.jpg"].shape == (64, 64, 3) and sample["e4.jpg"].shape == (64, 64, 3)
    record = sample["json"]
    assert record["key"] == first["key"] and record["subject"] == "sub01"
    assert record["labels"] == {"cde": first["label_cde"]}
    assert record["expression_frames"] == list(first["expression_frames"])
    assert record["transform"] == list(first["transform"])

    index = read_index(tmp_path / "casme2" / "shards")
    assert index.options == OPTIONS.to_json()
    assert [entry.keys for entry in index.shards] == [
        sorted(release["key"])[i : i + 2] for i in (0, 2, 4)
    ]


def test_a_subject_with_more_clips_than_shard_size_is_cut_in_chunks(tmp_path, release):
    run_shards(tmp_path / "casme2", release, replace(OPTIONS, shard_size=1), workers=1, quiet=True)
    names = sorted(shard_files(tmp_path / "casme2"))
    assert names[:2] == ["index.json", "sub01-000000.tar"] and "sub03-000001.tar" in names
    # a rerun with bigger shards removes the chunks it no longer plans
    run_shards(tmp_path / "casme2", release, OPTIONS, workers=1, quiet=True)
    assert "sub03-000001.tar" not in shard_files(tmp_path / "casme2")


def test_two_runs_give_identical_bytes_with_one_or_two_workers(tmp_path, release):
    one = run_shards(tmp_path / "a", release, OPTIONS, workers=1, quiet=True)
    two = run_shards(tmp_path / "b", release, OPTIONS, workers=2, quiet=True)
    assert shard_files(tmp_path / "a") == shard_files(tmp_path / "b")
    pd.testing.assert_frame_equal(one.manifest, two.manifest)
    assert two.clips_aligned == 6


def test_rerun_reuses_complete_shards_and_redoes_changed_options(tmp_path, release):
    db = tmp_path / "casme2"
    first = run_shards(db, release, OPTIONS, workers=1, quiet=True)
    stamp = (db / "shards" / "sub01-000000.tar").stat().st_mtime_ns
    again = run_shards(db, release, OPTIONS, workers=1, quiet=True)
    assert (again.shards_reused, again.clips_aligned) == (3, 0)
    assert (db / "shards" / "sub01-000000.tar").stat().st_mtime_ns == stamp
    pd.testing.assert_frame_equal(first.manifest, again.manifest)

    changed = run_shards(db, release, replace(OPTIONS, format="png"), workers=1, quiet=True)
    assert (changed.shards_reused, changed.clips_aligned) == (0, 6)
    assert changed.manifest.iloc[0]["members"][0].endswith(".neutral.png")

    # a changed row (another label) redoes only its subject's shard
    edited = release.copy()
    edited.loc[edited["subject"] == "sub02", "label_cde"] = "surprise"
    partial = run_shards(db, edited, replace(OPTIONS, format="png"), workers=1, quiet=True)
    assert (partial.shards_reused, partial.clips_aligned) == (2, 2)


# Runs write_shards in a child process that kills itself (SIGKILL) while writing the
# second shard, after the first shard and its index entry are complete (7 members/sample).
_KILLED_RUN = """
import os, signal, sys
import pandas as pd
import mepipe.contract.sample as sample
from mepipe.shards import ShardOptions, write_shards

real_add_member = sample._add_member
added = []

def dying_add_member(tar, name, data):
    real_add_member(tar, name, data)
    added.append(name)
    if len(added) == 2 * 7 + 1:  # the first member of the second shard
        tar.fileobj.flush()
        os.kill(os.getpid(), signal.SIGKILL)

sample._add_member = dying_add_member
write_shards(sys.argv[2], pd.read_parquet(sys.argv[1]), ShardOptions(size=64), workers=1)
"""


def test_resume_after_kill_9_finishes_identical_to_a_clean_run(tmp_path, release):
    manifest_path = tmp_path / "manifest.parquet"
    write_parquet(manifest_path, release)
    db = tmp_path / "killed"
    env = {**os.environ, "PYTHONPATH": str(ROOT), "OMP_NUM_THREADS": "1"}
    child = subprocess.run(
        [sys.executable, "-c", _KILLED_RUN, str(manifest_path), str(db)],
        env=env,
        capture_output=True,
        timeout=120,
    )
    assert child.returncode == -9, child.stderr.decode()[-2000:]
    left = sorted(p.name for p in (db / "shards").iterdir())
    assert "sub01-000000.tar" in left and "sub02-000000.tar" not in left
    assert any(name.endswith(".tmp") for name in left)  # the half-written second shard
    assert [e.name for e in read_index(db / "shards").shards] == ["sub01-000000.tar"]
    stamp = (db / "shards" / "sub01-000000.tar").stat()

    resumed = run_shards(db, release, OPTIONS, workers=1, quiet=True)
    assert (resumed.shards_reused, resumed.clips_aligned) == (1, 4)
    kept = (db / "shards" / "sub01-000000.tar").stat()
    assert (kept.st_ino, kept.st_mtime_ns) == (stamp.st_ino, stamp.st_mtime_ns)

    clean = run_shards(tmp_path / "clean", release, OPTIONS, workers=1, quiet=True)
    assert shard_files(db) == shard_files(tmp_path / "clean")
    pd.testing.assert_frame_equal(resumed.manifest, clean.manifest)


def test_tar_headers_are_reproducible(tmp_path, release):
    import tarfile

    run_shards(tmp_path / "casme2", release, OPTIONS, workers=1, quiet=True)
    with tarfile.open(tmp_path / "casme2" / "shards" / "sub01-000000.tar") as tar:
        members = tar.getmembers()
    assert {(m.mtime, m.uid, m.gid, m.uname, m.gname) for m in members} == {(0, 0, 0, "", "")}
    names = [m.name.partition(".")[2] for m in members]
    assert names[:7] == ["neutral.jpg", "e0.jpg", "e1.jpg", "e2.jpg", "e3.jpg", "e4.jpg", "json"]


def test_rows_without_selected_frames_are_rejected_with_a_reason(tmp_path):
    row = clip_row(tmp_path / "raw", "sub01", "EP01", n_frames=6, apex_index=3)
    bad = {**row, "key": "casme2__sub01__EP02", "clip": "EP02", "expression_frames": []}
    run = run_shards(tmp_path / "casme2", manifest([row, bad]), OPTIONS, workers=1, quiet=True)
    out = run.manifest.set_index("clip")
    assert out.loc["EP01", "status"] == "ok"
    assert out.loc["EP02", "status"] == "rejected"
    assert "no neutral frame and five expression frames" in out.loc["EP02", "reason"]
    index = json.loads((tmp_path / "casme2" / "shards" / "index.json").read_text())
    assert index["shards"][0]["keys"] == [row["key"]]
    assert np.isfinite(out.loc["EP01", "landmarks"]).all()
