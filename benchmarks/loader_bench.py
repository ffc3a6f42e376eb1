"""Samples/s of the shard loader against the same frames as loose image files.

Both read the same six JPEGs per clip (neutral + five expression frames) and decode and
resize them with the same function (mepipe_train.data.decode), through a DataLoader with
the same workers and batch size, in the same run:
- shards: WebDataset streaming of the subject tar files (split by worker);
- pool: the encoded bytes that training keeps in memory after one streaming pass
  (mepipe_train.data.load_pool) decoded per step, which is what an epoch costs;
- loose files: the same members extracted to `<key>/<member>` files, read by a torch Dataset.

It also times the trainer's shard check (size and sha256 of every shard against its
index.json, mepipe_train.data.check_shards) as a share of `load_pool`, which includes it.

    python benchmarks/loader_bench.py                # 128 px, 4 subjects x 8 clips per database
"""

from __future__ import annotations

import argparse
import sys
import tarfile
import tempfile
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))  # run from a checkout

import torch
import webdataset as wds
from torch.utils.data import DataLoader, Dataset

from mepipe.contract.sample import IMAGES
from mepipe.contract.split_table import read_split
from mepipe_train.data import (
    check_shards,
    load_pool,
    shard_locations,
)
from mepipe_train.data import decode as decode_image
from mepipe_train.synthetic import SyntheticSpec, build

MEMBERS = IMAGES


def decode_sample(sample: dict, size: int) -> torch.Tensor:
    return torch.stack([decode_image(sample[f"{m}.jpg"], size) for m in MEMBERS])


class ShardDecode:
    def __init__(self, size: int):
        self.size = size

    def __call__(self, sample: dict) -> torch.Tensor:
        return decode_sample(sample, self.size)


class LooseFiles(Dataset):
    def __init__(self, folders: list[Path], size: int):
        self.folders, self.size = folders, size

    def __len__(self) -> int:
        return len(self.folders)

    def __getitem__(self, index: int) -> torch.Tensor:
        folder = self.folders[index]
        return decode_sample(
            {f"{m}.jpg": (folder / f"{m}.jpg").read_bytes() for m in MEMBERS}, self.size
        )


class PoolDecode(Dataset):
    def __init__(self, pool: dict, size: int):
        self.clips, self.size = list(pool.values()), size

    def __len__(self) -> int:
        return len(self.clips)

    def __getitem__(self, index: int) -> torch.Tensor:
        clip = self.clips[index]
        return torch.stack([decode_image(b, self.size) for b in (clip.neutral, *clip.expressions)])


def rate(make_loader, passes: int) -> float:
    samples, began = 0, time.perf_counter()
    for _ in range(passes):
        for batch in make_loader():
            samples += batch.shape[0]
    return samples / (time.perf_counter() - began)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--size", type=int, default=128, help="stored and decoded image size")
    parser.add_argument("--subjects", type=int, default=4)
    parser.add_argument("--clips", type=int, default=8)
    parser.add_argument("--workers", type=int, default=2)
    parser.add_argument("--batch", type=int, default=16)
    parser.add_argument("--passes", type=int, default=3)
    args = parser.parse_args()
    with tempfile.TemporaryDirectory() as tmp:
        root = Path(tmp)
        spec = SyntheticSpec(
            micro={"casme2": args.subjects, "smic": args.subjects},
            macro={"ckplus": args.subjects},
            clips_per_subject=args.clips,
            size=args.size,
        )
        split = read_split(build(root / "data", spec))
        where = shard_locations(root / "data", split["database"])
        urls = sorted({str(p) for p in where.values()})
        folders = []
        for url in urls:  # the same members, as loose files
            with tarfile.open(url) as tar:
                tar.extractall(root / "loose", filter="data")
        for key in where:
            folder = root / "loose" / key
            folder.mkdir()
            for m in MEMBERS:
                (root / "loose" / f"{key}.{m}.jpg").rename(folder / f"{m}.jpg")
            folders.append(folder)

        def shards():
            dataset = wds.WebDataset(urls, shardshuffle=False, nodesplitter=None, empty_check=False)
            return DataLoader(
                dataset.map(ShardDecode(args.size)), batch_size=args.batch, num_workers=args.workers
            )

        def loose():
            return DataLoader(
                LooseFiles(folders, args.size), batch_size=args.batch, num_workers=args.workers
            )

        began = time.perf_counter()
        pool = load_pool(list(where), where, args.workers)
        loading = time.perf_counter() - began
        began = time.perf_counter()
        check_shards([Path(url) for url in urls])
        checking = time.perf_counter() - began
        megabytes = sum(Path(url).stat().st_size for url in urls) / 1e6

        def pooled():
            return DataLoader(
                PoolDecode(pool, args.size), batch_size=args.batch, num_workers=args.workers
            )

        rate(loose, 1), rate(shards, 1)  # warm the page cache for both
        results = {
            "loose files": rate(loose, args.passes),
            "shards (streamed)": rate(shards, args.passes),
            "pool (in memory)": rate(pooled, args.passes),
        }
    print(
        f"{len(folders)} clips x 6 JPEGs, {args.size} px, {args.workers} workers, "
        f"batch {args.batch}, {args.passes} passes, {len(urls)} shards"
    )
    base = results["loose files"]
    print(f"{'loader':20} {'clips/s':>9} {'x loose':>8}")
    for name, value in results.items():
        print(f"{name:20} {value:9.1f} {value / base:8.2f}")
    print(
        f"shard check: {checking * 1000:.0f} ms for {megabytes:.1f} MB, "
        f"{checking / loading:.2f} x load_pool ({loading * 1000:.0f} ms, check included)"
    )


if __name__ == "__main__":
    main()
