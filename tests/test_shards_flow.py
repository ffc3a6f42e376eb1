"""Shards with optical flow (`--flow`): members, index and manifest, determinism with any
number of workers, resume, and adding flow to existing shards without aligning again."""

from __future__ import annotations

import os
import subprocess
import sys
import tarfile
from dataclasses import replace
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
from align_helpers import shard_files, small_release

import mepipe.shards.clip as clip_module
import mepipe.shards.write as write_module
from mepipe.atomic import write_parquet
from mepipe.contract.sample import FLOW_MEMBERS, OFFSET_FLOW_MEMBERS, iter_samples
from mepipe.flow import FlowOptions
from mepipe.shards import ShardOptions, run_shards
from mepipe.shards.index import read_index

ROOT = Path(__file__).resolve().parent.parent
SIZE = 48  # flow's behaviour does not depend on the crop size; TV-L1 costs ~40 ms here
PLAIN = ShardOptions(size=SIZE)
FLOW = replace(PLAIN, optical_flow=FlowOptions(flow="tvl1"))
BOTH = replace(PLAIN, optical_flow=FlowOptions(flow="tvl1", flow_pairs="onset-apex,apex-offset"))


@pytest.fixture(scope="module")
def release(tmp_path_factory) -> pd.DataFrame:
    return small_release(tmp_path_factory.mktemp("raw"), subjects=2, clips=2)


def test_flow_members_index_and_manifest(tmp_path, release):
    run = run_shards(tmp_path / "casme2", release, BOTH, workers=1, quiet=True)
    first = run.manifest.iloc[0]
    key = first["key"]
    arrays = [f"{key}.{name}.npy" for name in (*FLOW_MEMBERS, *OFFSET_FLOW_MEMBERS)]
    assert list(first["members"])[6:] == [f"{key}.offset.jpg", *arrays, f"{key}.json"]
    assert first["flow"].startswith("tvl1 pairs=onset-apex,apex-offset tau=0.25 ")
    with tarfile.open(tmp_path / "casme2" / "shards" / "sub01-000000.tar") as tar:
        assert tar.getnames()[: len(first["members"])] == list(first["members"])
    sample = next(iter_samples(tmp_path / "casme2" / "shards" / "sub01-000000.tar"))
    flow = sample.array("flow", (2, SIZE, SIZE))
    assert flow.dtype == np.float16 and np.isfinite(flow).all()
    assert sample.array("strain_offset", (SIZE, SIZE)).dtype == np.float16
    assert sample.image("offset").shape == (SIZE, SIZE, 3)
    # the demo clip moves its face between onset and apex: the flow sees it
    assert float(sample.array("magnitude").max()) > 0.3
    record = sample.record()
    assert record["flow"] == first["flow"] and record["offset_frame"] == first["offset"]
    stored = read_index(tmp_path / "casme2" / "shards").options["optical_flow"]
    assert stored["flow"] == "tvl1" and stored["flow_tau"] == 0.25
    assert stored["flow_pairs"] == ["onset-apex", "apex-offset"]
    # flow off: no flow columns or options recorded (older indexes stay reusable)
    off = run_shards(tmp_path / "off", release, PLAIN, workers=1, quiet=True)
    assert off.manifest["flow"].isna().all() and len(off.manifest.iloc[0]["members"]) == 7
    assert "optical_flow" not in read_index(tmp_path / "off" / "shards").options


def test_flow_shards_are_identical_with_one_or_two_workers(tmp_path, release):
    one = run_shards(tmp_path / "a", release, BOTH, workers=1, quiet=True)
    two = run_shards(tmp_path / "b", release, BOTH, workers=2, quiet=True)
    assert shard_files(tmp_path / "a") == shard_files(tmp_path / "b")
    pd.testing.assert_frame_equal(one.manifest, two.manifest)
    assert one.timings["flow"] > 0


def test_adding_or_changing_flow_reuses_the_recorded_alignment(tmp_path, release, monkeypatch):
    db = tmp_path / "casme2"
    run_shards(db, release, PLAIN, workers=1, quiet=True)
    clean = tmp_path / "clean"
    run_shards(clean, release, FLOW, workers=1, quiet=True)

    def no_landmarker(options):
        raise AssertionError("the landmarker ran: the recorded alignment was not reused")

    monkeypatch.setattr(clip_module, "new_landmarker", no_landmarker)
    monkeypatch.setattr(write_module, "new_landmarker", no_landmarker)
    added = run_shards(db, release, FLOW, workers=1, quiet=True)
    assert (added.shards_reused, added.clips_aligned) == (0, 4)
    assert added.timings["landmarks"] == 0 and added.timings["flow"] > 0
    assert shard_files(db) == shard_files(clean)  # the same bytes as aligning afresh

    # a changed flow parameter redoes the shards (and again without the landmarker)
    before = shard_files(db)
    tau = replace(FLOW, optical_flow=replace(FLOW.optical_flow, flow_tau=0.1))
    changed = run_shards(db, release, tau, workers=1, quiet=True)
    assert (changed.shards_reused, changed.clips_aligned) == (0, 4)
    assert shard_files(db)["sub01-000000.tar"] != before["sub01-000000.tar"]
    assert read_index(db / "shards").options["optical_flow"]["flow_tau"] == 0.1
    again = run_shards(db, release, tau, workers=1, quiet=True)
    assert (again.shards_reused, again.clips_aligned) == (2, 0)


def test_another_alignment_option_aligns_again(tmp_path, release, monkeypatch):
    db = tmp_path / "casme2"
    run_shards(db, release, PLAIN, workers=1, quiet=True)
    calls = []
    real = clip_module.Landmarker

    def counting():
        calls.append(1)
        return real()

    monkeypatch.setattr(clip_module, "Landmarker", counting)
    run_shards(db, release, replace(FLOW, size=SIZE + 16), workers=1, quiet=True)
    assert calls  # another crop size: the faces are found again


# write_shards with flow in a child that kills itself (SIGKILL) at the first member of the
# second shard (two samples of 10 members each complete the first).
_KILLED_RUN = """
import os, signal, sys
import pandas as pd
import mepipe.contract.sample as sample
from mepipe.flow import FlowOptions
from mepipe.shards import ShardOptions, write_shards

real_add_member = sample._add_member
added = []

def dying_add_member(tar, name, data):
    real_add_member(tar, name, data)
    added.append(name)
    if len(added) == 2 * 10 + 1:
        tar.fileobj.flush()
        os.kill(os.getpid(), signal.SIGKILL)

sample._add_member = dying_add_member
options = ShardOptions(size=int(sys.argv[3]), optical_flow=FlowOptions(flow="tvl1"))
write_shards(sys.argv[2], pd.read_parquet(sys.argv[1]), options, workers=1)
"""


def test_resume_with_flow_after_kill_9_ends_identical_to_a_clean_run(tmp_path, release):
    manifest_path = tmp_path / "manifest.parquet"
    write_parquet(manifest_path, release)
    db = tmp_path / "killed"
    env = {**os.environ, "PYTHONPATH": str(ROOT), "OMP_NUM_THREADS": "1"}
    child = subprocess.run(
        [sys.executable, "-c", _KILLED_RUN, str(manifest_path), str(db), str(SIZE)],
        env=env,
        capture_output=True,
        timeout=120,
    )
    assert child.returncode == -9, child.stderr.decode()[-2000:]
    assert [e.name for e in read_index(db / "shards").shards] == ["sub01-000000.tar"]
    resumed = run_shards(db, release, FLOW, workers=1, quiet=True)
    assert (resumed.shards_reused, resumed.clips_aligned) == (1, 2)
    clean = run_shards(tmp_path / "clean", release, FLOW, workers=1, quiet=True)
    assert shard_files(db) == shard_files(tmp_path / "clean")
    pd.testing.assert_frame_equal(resumed.manifest, clean.manifest)


def test_ingest_with_flow_after_an_ingest_without_it_does_not_detect_faces(tmp_path, monkeypatch):
    """Through `ingest_database`, which builds the new version beside the live one: the
    live index's transforms are applied again."""
    from mepipe.demo.releases import write_demo_releases
    from mepipe.ingest import ingest_database

    write_demo_releases(tmp_path / "raw", databases=("casme2",))
    raw, data = tmp_path / "raw" / "casme2", tmp_path / "data"
    ingest_database("casme2", raw, data, shard_options=PLAIN, workers=1)
    before = pd.read_parquet(data / "casme2" / "manifest.parquet")

    def no_landmarker(options):
        raise AssertionError("the landmarker ran: the recorded alignment was not reused")

    monkeypatch.setattr(clip_module, "new_landmarker", no_landmarker)
    monkeypatch.setattr(write_module, "new_landmarker", no_landmarker)
    flow = replace(PLAIN, optical_flow=FlowOptions(flow="farneback"))
    ingest_database("casme2", raw, data, shard_options=flow, workers=1)
    after = pd.read_parquet(data / "casme2" / "manifest.parquet")
    usable = after[after["shard"].notna()]
    assert len(usable) > 0 and usable["flow"].str.startswith("farneback ").all()
    assert list(after["status"]) == list(before["status"])

    def transforms(manifest: pd.DataFrame) -> list:
        return [None if t is None else list(t) for t in manifest["transform"]]

    assert transforms(after) == transforms(before)
