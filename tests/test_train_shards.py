"""The trainer refuses damaged shards (issue 8, item 5): each shard a fold loads is checked
against its index.json (size and sha256) and a mismatch names the shard and `mepipe verify`.
A flipped bit inside a JPEG still decodes, so without the check it would train silently."""

from __future__ import annotations

import json
import shutil
from pathlib import Path

import pytest
from align_helpers import small_release
from cli_helpers import error_line
from click.testing import CliRunner

from mepipe.atomic import write_parquet
from mepipe.cli import main as mepipe_main
from mepipe.errors import MepipeError
from mepipe.shards import ShardOptions, write_shards
from mepipe_train.cli import main
from mepipe_train.data import load_pool, shard_locations
from mepipe_train.synthetic import SyntheticSpec, build


@pytest.fixture(scope="module")
def ingested(tmp_path_factory) -> Path:
    """casme2 shards as `mepipe ingest` writes them (aligned, real writer, index.json)."""
    root = tmp_path_factory.mktemp("ingested")
    release = small_release(root / "raw", subjects=2, clips=2)
    db = root / "data" / "casme2"
    write_parquet(db / "manifest.parquet", write_shards(db, release, ShardOptions(size=48)))
    return root / "data"


def flip_a_jpeg_byte(shard: Path) -> None:
    """One bit flipped in the entropy-coded data of the shard's first JPEG member."""
    raw = bytearray(shard.read_bytes())
    start = raw.index(b"\xff\xd8\xff")
    raw[start + 300] ^= 0x10
    shard.write_bytes(bytes(raw))


def test_bit_flip_in_a_real_shard_is_refused_naming_the_shard(ingested, tmp_path):
    data = tmp_path / "data"
    shutil.copytree(ingested, data)
    where = shard_locations(data, ["casme2"])
    keys = sorted(where)
    assert len(load_pool(keys, where)) == len(keys)  # intact data loads
    shard = where[keys[0]]
    flip_a_jpeg_byte(shard)
    with pytest.raises(MepipeError) as caught:
        load_pool(keys, where)
    assert caught.value.path == str(shard)
    assert "sha256 differs" in str(caught.value) and "mepipe verify" in str(caught.value)


@pytest.fixture(scope="module")
def synthetic(tmp_path_factory) -> tuple[Path, Path]:
    root = tmp_path_factory.mktemp("synthetic")
    return root, build(root, SyntheticSpec(micro={"casme2": 2}, macro={"ckplus": 1}))


def test_synthetic_data_carries_an_index_that_verifies(synthetic):
    root, _ = synthetic
    result = CliRunner().invoke(mepipe_main, ["verify", "--data", str(root)])
    assert result.exit_code == 0, result.output


def _copy(synthetic, tmp_path) -> tuple[Path, Path]:
    root, split = synthetic
    shutil.copytree(root, tmp_path / "data")
    return tmp_path / "data", tmp_path / "data" / split.name


def test_trainer_refuses_a_damaged_shard_before_training(synthetic, tmp_path):
    data, split = _copy(synthetic, tmp_path)
    shard = data / "ckplus" / "shards" / "S001-000000.tar"
    flip_a_jpeg_byte(shard)
    args = [
        "loso", "--data", str(data), "--split", str(split), "--out", str(tmp_path / "run"),
        "--folds", "0", "--epochs", "1", "--eid-epochs", "1", "--max-steps", "1",
        "--image-size", "32", "--weights", "none", "--workers", "0", "--device", "cpu",
    ]  # fmt: skip
    line = error_line(CliRunner().invoke(main, args))
    assert line.startswith(f"Error: {shard}: shard is damaged")
    assert "run `mepipe verify --data DATA`" in line
    assert not (tmp_path / "run" / "macronet.pt").exists()


@pytest.mark.parametrize("damage", ["appended", "not in the index", "no index"])
def test_shard_that_disagrees_with_its_index_is_named(synthetic, tmp_path, damage):
    data, _ = _copy(synthetic, tmp_path)
    shards = data / "casme2" / "shards"
    shard = shards / "sub01-000000.tar"
    where = shard_locations(data, ["casme2"])
    if damage == "appended":
        shard.write_bytes(shard.read_bytes() + bytes(512))
        expected, named = "bytes, index.json says", shard
    elif damage == "not in the index":
        index = json.loads((shards / "index.json").read_text())
        index["shards"] = [e for e in index["shards"] if e["name"] != shard.name]
        (shards / "index.json").write_text(json.dumps(index))
        expected, named = "shard is not in index.json", shard
    else:
        (shards / "index.json").unlink()
        expected, named = "shard index is missing", shards / "index.json"
    with pytest.raises(MepipeError, match="mepipe verify") as caught:
        load_pool(sorted(where), where)
    assert caught.value.path == str(named) and expected in str(caught.value)
