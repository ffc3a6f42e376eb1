"""`mepipe verify` passes clean data and names every kind of damage."""

from __future__ import annotations

import shutil
from pathlib import Path

import pandas as pd
import pytest
from align_helpers import small_release
from click.testing import CliRunner
from webdataset import TarWriter

from mepipe.atomic import write_parquet
from mepipe.cli import main
from mepipe.contract.sample import iter_samples
from mepipe.shards import ShardOptions, write_shards
from mepipe.shards.index import read_index, sha256_of, write_index
from mepipe.verify import verify_database


@pytest.fixture(scope="module")
def pristine(tmp_path_factory) -> Path:
    """A data directory as ingest leaves it: casme2/manifest.parquet and casme2/shards."""
    root = tmp_path_factory.mktemp("verify")
    release = small_release(root / "raw", subjects=2, clips=2)
    db = root / "data" / "casme2"
    out = write_shards(db, release, ShardOptions(size=48), workers=1)
    write_parquet(db / "manifest.parquet", out)
    return root / "data"


@pytest.fixture
def data(pristine, tmp_path) -> Path:
    copy = tmp_path / "data"
    shutil.copytree(pristine, copy)
    return copy


def _verify(data: Path):
    return CliRunner().invoke(main, ["verify", "--data", str(data)])


def test_clean_data_verifies(data):
    result = _verify(data)
    assert result.exit_code == 0, result.output
    assert "all shards verified: casme2" in result.output


def test_corrupted_shard_is_caught(data):
    path = data / "casme2" / "shards" / "sub01-000000.tar"
    raw = bytearray(path.read_bytes())
    start = raw.index(b"\xff\xd8\xff")  # the first JPEG member
    raw[start + 200 : start + 400] = bytes(200)
    path.write_bytes(bytes(raw))
    result = _verify(data)
    assert result.exit_code == 1
    assert "casme2/shards/sub01-000000.tar: sha256 is" in result.output
    problems = verify_database(data / "casme2")
    assert any("sha256" in p for p in problems)


def test_truncated_member_is_named(data):
    path = data / "casme2" / "shards" / "sub02-000000.tar"
    samples = list(iter_samples(path))
    samples[0].members["e3.jpg"] = samples[0].members["e3.jpg"][:300]
    _rewrite(path, samples)
    problems = verify_database(data / "casme2")
    assert any(f"{samples[0].key}.e3.jpg does not decode" in p for p in problems), problems


def test_missing_shard_is_caught(data):
    (data / "casme2" / "shards" / "sub02-000000.tar").unlink()
    result = _verify(data)
    assert result.exit_code == 1
    assert "casme2/shards/sub02-000000.tar: shard is missing" in result.output
    assert "no sample in shards/sub02-000000.tar" in result.output  # its manifest rows


def test_extra_sample_is_caught_even_with_a_matching_sha256(data):
    """A sample the manifest lacks, in a shard whose index entry was updated to match."""
    shards = data / "casme2" / "shards"
    path = shards / "sub01-000000.tar"
    samples = list(iter_samples(path))
    extra = samples[0].members.copy()
    samples.append(type(samples[0])("casme2__sub01__EP99_01", extra))
    _rewrite(path, samples)
    index = read_index(shards)
    index.shards[0].sha256 = sha256_of(path)
    index.shards[0].keys.append("casme2__sub01__EP99_01")
    write_index(shards, index)
    result = _verify(data)
    assert result.exit_code == 1
    assert (
        "casme2/shards/sub01-000000.tar: sample casme2__sub01__EP99_01 is not in the manifest"
        in result.output
    )
    assert "sha256" not in result.output


def test_manifest_row_without_its_sample_is_caught(data):
    manifest = pd.read_parquet(data / "casme2" / "manifest.parquet")
    manifest.loc[1, "key"] = "casme2__sub01__EP77_01"
    write_parquet(data / "casme2" / "manifest.parquet", manifest)
    problems = verify_database(data / "casme2")
    assert any("row 1 (casme2__sub01__EP77_01): no sample in" in p for p in problems), problems
    assert any("is not in the manifest" in p for p in problems)


def test_image_of_the_wrong_size_is_caught(data):
    index = read_index(data / "casme2" / "shards")
    index.options["size"] = 64
    write_index(data / "casme2" / "shards", index)
    problems = verify_database(data / "casme2")
    assert any("is 48x48, expected 64x64" in p for p in problems)


def test_no_data_is_a_clear_error(tmp_path):
    result = _verify(tmp_path)
    assert result.exit_code == 1
    assert "no <db>/manifest.parquet found" in result.output


def _rewrite(path: Path, samples) -> None:
    with path.open("wb") as handle:
        writer = TarWriter(handle, user="", group="", mtime=0, encoder=False)
        for sample in samples:
            writer.write({"__key__": sample.key, **sample.members})
        writer.close()


@pytest.fixture(scope="module")
def flow_data(tmp_path_factory) -> Path:
    """A data directory ingested with optical flow (TV-L1, onset->apex)."""
    from mepipe.flow import FlowOptions

    root = tmp_path_factory.mktemp("verify_flow")
    release = small_release(root / "raw", subjects=1, clips=2)
    db = root / "data" / "casme2"
    options = ShardOptions(size=32, optical_flow=FlowOptions(flow="tvl1"))
    write_parquet(db / "manifest.parquet", write_shards(db, release, options, workers=1))
    return root / "data"


def test_flow_members_are_checked(flow_data, tmp_path):
    import numpy as np

    from mepipe.contract.sample import encode_array

    data = tmp_path / "data"
    shutil.copytree(flow_data, data)
    assert verify_database(data / "casme2") == []
    path = data / "casme2" / "shards" / "sub01-000000.tar"
    samples = list(iter_samples(path))
    samples[0].members["flow.npy"] = encode_array(np.zeros((2, 16, 16)))
    del samples[1].members["strain.npy"]
    _rewrite(path, samples)
    problems = verify_database(data / "casme2")
    key0, key1 = samples[0].key, samples[1].key
    assert any(f"{key0}.flow.npy: shape (2, 16, 16), expected (2, 32, 32)" in p for p in problems)
    assert any(f"sample {key1} has members" in p and "strain.npy" in p for p in problems)
