"""Shard streaming, the triplet sampler and rank splitting, on a tiny rendered data dir."""

import tarfile
from collections import Counter

import pandas as pd
import pytest
import torch

from mepipe.contract.split_table import read_split
from mepipe.errors import MepipeError
from mepipe_train.data import (
    TripletDataset,
    epoch_order,
    folds_from_split,
    load_pool,
    shard_locations,
)
from mepipe_train.synthetic import SyntheticSpec, build

torch.set_num_threads(1)


@pytest.fixture(scope="module")
def data(tmp_path_factory):
    root = tmp_path_factory.mktemp("data")
    split = build(root, SyntheticSpec(micro={"casme2": 2, "smic": 1}, macro={"ckplus": 1}))
    return root, read_split(split)


def test_shards_follow_docs_member_names(data):
    root, _ = data
    with tarfile.open(root / "casme2" / "shards" / "sub01-000000.tar") as tar:
        names = tar.getnames()
        assert all(m.mtime == 0 for m in tar.getmembers())
    key = "casme2__sub01__sub01_00"
    assert names[:7] == [
        f"{key}.{m}"
        for m in ("neutral.jpg", "e0.jpg", "e1.jpg", "e2.jpg", "e3.jpg", "e4.jpg", "json")
    ]


def test_pool_with_more_workers_than_shards_reads_everything(data):
    root, split = data
    where = shard_locations(root, split["database"])
    keys = [k for k in split["key"].unique() if k.startswith("ckplus")]  # one shard
    pool = load_pool(keys, where, workers=3)
    assert sorted(pool) == sorted(keys)
    assert all(len(c.expressions) == 5 and c.neutral[:2] == b"\xff\xd8" for c in pool.values())


def test_pool_names_the_shard_when_a_sample_is_missing(data, tmp_path):
    root, split = data
    where = shard_locations(root, split["database"])
    key = "casme2__sub01__sub01_00"
    with pytest.raises(MepipeError, match="not in its shard"):
        load_pool([key], {key: where["casme2__sub02__sub02_00"]})
    with pytest.raises(MepipeError, match="no shard"):
        load_pool(["casme2__sub09__x"], where)


def test_split_with_held_out_subject_on_training_side_is_refused(data, tmp_path):
    _, split = data
    bad = split.copy()
    row = bad.index[(bad["role"] == "test")][0]
    bad.loc[row, "role"] = "train"
    path = tmp_path / "bad.parquet"
    bad.to_parquet(path)
    with pytest.raises(MepipeError, match="held-out subject") as error:
        read_split(path)
    assert str(path) in str(error.value)
    pd.DataFrame({"fold": [0]}).to_parquet(path)
    with pytest.raises(MepipeError, match="lacks column"):
        read_split(path)


def test_triplets_draw_only_from_the_training_side(data):
    root, split = data
    fold = folds_from_split(split)[0]
    held = fold.held_out
    where = shard_locations(root, split["database"])
    micro = load_pool([i.key for i in fold.train], where)
    macro = load_pool([i.key for i in fold.macro], where)
    dataset = TripletDataset(micro, macro, fold.train, fold.macro, size=32, seed=0)
    label = {i.key: i.label for i in fold.train + fold.macro}
    train_keys = {i.key for i in fold.train}
    for epoch in range(3):
        dataset.set_epoch(epoch)
        for index in range(len(dataset)):
            t = dataset[index]
            assert t["key"] == fold.train[index].key  # every anchor once per epoch
            if t["has_pos"]:
                assert t["pos_key"].startswith("ckplus") and label[t["pos_key"]] == t["label"]
            if t["has_neg"]:
                assert t["neg_key"] in train_keys and label[t["neg_key"]] != t["label"]
            for key in (t["key"], t["pos_key"], t["neg_key"]):
                assert not key.startswith(held.replace("/", "__") + "__")
            assert (
                t["anchor"].shape == (3, 32, 32)
                and 0 <= t["anchor"].min() <= t["anchor"].max() <= 1
            )
    # the same (seed, epoch, index) draws the same triplet
    dataset.set_epoch(1)
    a, b = dataset[0], dataset[0]
    assert a["pos_key"] == b["pos_key"] and torch.equal(a["positive"], b["positive"])


def test_epoch_order_gives_every_rank_the_same_number_of_steps():
    n = 7
    parts = [epoch_order(n, seed=3, epoch=0, rank=r, world=3) for r in range(3)]
    assert {len(p) for p in parts} == {3}
    assert set(sum(parts, [])) == set(range(n))
    assert Counter(sum(parts, [])).most_common(1)[0][1] <= 2
    assert epoch_order(n, 3, 0) != epoch_order(n, 3, 1)  # reshuffled each epoch
    assert epoch_order(n, 3, 0, limit=4) == epoch_order(n, 3, 0)[:4]
    assert epoch_order(1, 0, 0, rank=1, world=2) == [0]  # fewer samples than ranks


def test_manifest_without_shards_is_named(tmp_path):
    (tmp_path / "casme2").mkdir()
    pd.DataFrame({"key": ["casme2__sub01__a"], "status": ["ok"]}).to_parquet(
        tmp_path / "casme2" / "manifest.parquet"
    )
    with pytest.raises(MepipeError, match="no shard column") as error:
        shard_locations(tmp_path, ["casme2"])
    assert "casme2/manifest.parquet" in str(error.value)
    with pytest.raises(MepipeError, match="manifest not found"):
        shard_locations(tmp_path, ["smic"])
