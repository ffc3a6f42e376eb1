"""From a split table and shards to training batches: folds, the clip pool, pairs and triplets.

How data flows (docs/training.md, Data):
1. The split table (docs/splits.md) says, per fold, which clip keys train and which test.
2. Each manifest (docs/manifest.md) says which shard holds each key.
3. `load_pool` checks each shard's size and sha256 against its index.json, then streams
   those shards with WebDataset (no unpacking to folders) and keeps the
   encoded JPEG bytes of the wanted keys only. Shards are split by node and by DataLoader
   worker, empty splits are allowed (fewer shards than workers never hangs), and under
   torchrun the ranks then exchange what they read, so each rank holds the whole pool:
   the triplet sampler needs random access to any training clip.
4. Pair / triplet / test datasets decode on the fly in DataLoader workers (or, with
   --data-on-device, each clip once per process: mepipe_train.resident, same draws). Every
   random choice is seeded by (seed, epoch, index), so results do not depend on worker
   count and a resumed epoch draws exactly what the interrupted one would have drawn.

Leak-freedom is structural: a fold's pool holds only its training keys (micro training
subjects + macro), so nothing of the held-out subject can reach a training batch.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import cv2
import numpy as np
import pandas as pd
import torch
import webdataset as wds
from torch.utils.data import DataLoader, Dataset

from mepipe.contract.manifest import ClipStatus, manifest_path, read_manifest
from mepipe.contract.sample import (
    ARRAY_EXT,
    EXPRESSIONS,
    FLOW,
    IMAGE_FORMATS,
    NEUTRAL,
    STRAIN,
    decode_array,
)
from mepipe.errors import MepipeError
from mepipe.shards.index import INDEX_NAME, ShardEntry, read_index, sha256_of
from mepipe_train.config import TrainConfig


@dataclass(frozen=True)
class Item:
    """One clip as training sees it."""

    key: str
    database: str
    subject: str
    domain: str  # micro | macro
    label: int


@dataclass
class Fold:
    """One LOSO fold: micro training clips, held-out test clips, macro clips (train only)."""

    number: int
    held_out: str
    train: list[Item]
    test: list[Item]
    macro: list[Item]

    @property
    def train_subjects(self) -> list[str]:
        """`database/subject` ids of the training side, D_s's classes (sorted, stable)."""
        return sorted({f"{i.database}/{i.subject}" for i in self.train})


def folds_from_split(table: pd.DataFrame) -> list[Fold]:
    """One Fold per fold number of a split table."""
    folds = []
    for number, rows in sorted(table.groupby("fold")):
        items = {
            role: [
                Item(r.key, r.database, str(r.subject), r.domain, int(r.label_index))
                for r in part.itertuples()
            ]
            for role, part in rows.groupby("role")
        }
        train = items.get("train", [])
        folds.append(
            Fold(
                number=int(number),
                held_out=str(rows["held_out"].iloc[0]),
                train=[i for i in train if i.domain == "micro"],
                test=items.get("test", []),
                macro=[i for i in train if i.domain == "macro"],
            )
        )
    return folds


def shard_locations(data_dir: str | Path, databases: Iterable[str]) -> dict[str, Path]:
    """key -> shard file, from each database's manifest (status != rejected, shard set)."""
    where: dict[str, Path] = {}
    for database in sorted(set(databases)):
        manifest = manifest_path(data_dir, database)
        table = read_manifest(manifest, require=("key", "status"))
        if "shard" not in table.columns:
            raise MepipeError(
                "manifest has no shard column: the trainer reads shards "
                "(run `mepipe ingest` without --no-align)",
                manifest,
            )
        usable = table[(table["status"] != ClipStatus.REJECTED) & table["shard"].notna()]
        for key, shard in zip(usable["key"], usable["shard"], strict=True):
            where[key] = manifest.parent / shard
    return where


@dataclass
class ClipBytes:
    """A clip's encoded images as stored in its shard sample."""

    neutral: bytes
    expressions: tuple[bytes, ...]


class _KeyFilter:
    """Picklable `select` predicate (DataLoader workers may be spawned)."""

    def __init__(self, keys: frozenset[str]):
        self.keys = keys

    def __call__(self, sample: dict) -> bool:
        return sample["__key__"] in self.keys


def _member(sample: dict, name: str, url: str) -> bytes:
    for ext in IMAGE_FORMATS:
        if f"{name}.{ext}" in sample:
            return sample[f"{name}.{ext}"]
    raise MepipeError(f"sample {sample['__key__']} has no member {name}.jpg/.png", url)


def _to_clip(sample: dict) -> tuple[str, ClipBytes]:
    url = sample.get("__url__", "shard")
    return sample["__key__"], ClipBytes(
        neutral=_member(sample, NEUTRAL, url),
        expressions=tuple(_member(sample, m, url) for m in EXPRESSIONS),
    )


VERIFY = "run `mepipe verify --data DATA` and ingest again"


def check_shards(paths: Sequence[Path]) -> None:
    """Each shard's size and sha256 against the index.json of its folder, read through
    mepipe.shards.index (the format's owner): training on damaged data is refused.

    A flipped bit in a JPEG still decodes, so without this a damaged shard would train
    silently. Hashing costs one sequential read per shard, far less than decoding it.
    """
    entries: dict[Path, dict[str, ShardEntry]] = {}
    for path in paths:
        folder = path.parent
        if folder not in entries:
            try:
                entries[folder] = read_index(folder).by_name()
            except MepipeError as exc:
                raise MepipeError(f"{exc.message}; {VERIFY}", exc.path) from None
        entry = entries[folder].get(path.name)
        if entry is None:
            raise MepipeError(f"shard is not in {INDEX_NAME}; {VERIFY}", path)
        size = path.stat().st_size
        if size != entry.bytes:
            raise MepipeError(
                f"shard is damaged: {size} bytes, {INDEX_NAME} says {entry.bytes}; {VERIFY}", path
            )
        if sha256_of(path) != entry.sha256:
            raise MepipeError(
                f"shard is damaged: its sha256 differs from {INDEX_NAME}; {VERIFY}", path
            )


def load_pool(
    keys: Iterable[str],
    shard_of: dict[str, Path],
    workers: int = 0,
    convert: Callable[[dict], tuple[str, Any]] = _to_clip,
) -> dict[str, ClipBytes]:
    """Stream the shards holding `keys` and keep those samples' encoded images (or what
    `convert` makes of each sample: `load_flow_pool` keeps the flow members).

    Every shard is first checked against its index (`check_shards`), on every rank, so
    all ranks refuse damaged data alike.

    Shards are split by node (torchrun rank) and by DataLoader worker; a worker or rank
    without a shard reads nothing (`empty_check=False`) instead of waiting or failing.
    Under torchrun the ranks then exchange their parts, so every rank returns the whole pool.
    """
    wanted = frozenset(keys)
    missing = sorted(k for k in wanted if k not in shard_of)
    if missing:
        raise MepipeError(
            f"clip {missing[0]} (and {len(missing) - 1} more) has no shard in its manifest"
        )
    urls = sorted({str(shard_of[k]) for k in wanted})
    for url in urls:
        if not Path(url).exists():
            raise MepipeError("shard listed in the manifest is missing", url)
    check_shards([Path(url) for url in urls])
    distributed = torch.distributed.is_available() and torch.distributed.is_initialized()
    dataset = (
        wds.WebDataset(
            urls,
            shardshuffle=False,
            nodesplitter=wds.split_by_node if distributed else None,
            workersplitter=wds.split_by_worker,
            empty_check=False,
        )
        .select(_KeyFilter(wanted))
        .map(convert)
    )
    loader = DataLoader(dataset, batch_size=None, num_workers=workers)
    pool = dict(loader)
    if distributed:
        parts: list[dict[str, ClipBytes] | None] = [None] * torch.distributed.get_world_size()
        torch.distributed.all_gather_object(parts, pool)
        pool = {k: v for part in parts if part for k, v in part.items()}
    absent = sorted(wanted - pool.keys())
    if absent:
        raise MepipeError(
            f"sample {absent[0]} is not in its shard (and {len(absent) - 1} more)",
            shard_of[absent[0]],
        )
    return pool


# Flow models (mepipe_train.flownets) read the flow members instead of the images.
FLOW_CHANNELS = ("u", "v", "strain")  # what a flow pool holds per clip, in this order
NO_FLOW = "no flow"


def _to_flow_clip(sample: dict) -> tuple[str, np.ndarray | str]:
    """A sample -> (key, its (3, 28, 28) u, v, strain input), or (key, what is wrong).

    Runs in DataLoader workers, so a problem is returned, not raised: load_flow_pool
    raises it in the main process as one line."""
    from mepipe_train.flownets import flow_input

    key = sample["__key__"]
    members = (f"{FLOW}.{ARRAY_EXT}", f"{STRAIN}.{ARRAY_EXT}")
    if any(m not in sample for m in members):
        return key, NO_FLOW
    try:
        flow = decode_array(sample[members[0]], name=f"{key}.{members[0]}")
        size = flow.shape[-1]
        if flow.shape != (2, size, size):
            return key, f"{key}.{members[0]} has shape {flow.shape}, expected (2, S, S)"
        strain = decode_array(sample[members[1]], (size, size), name=f"{key}.{members[1]}")
    except MepipeError as exc:
        return key, f"{exc.path}: {exc.message}"
    if not (np.isfinite(flow).all() and np.isfinite(strain).all()):
        return key, f"sample {key}: its flow or strain holds NaN or infinite values"
    return key, flow_input(flow, strain, FLOW_CHANNELS)


def flow_ingest_line(database: str) -> str:
    """The command that writes the flow members the flow models read (docs/shards.md)."""
    return f"mepipe ingest {database} RAW --out DATA --flow tvl1"


def load_flow_pool(
    keys: Iterable[str], shard_of: dict[str, Path], workers: int = 0
) -> dict[str, np.ndarray]:
    """The flow models' inputs of `keys`: (3, 28, 28) float32 u, v, strain per clip
    (mepipe_train.flownets.flow_input), streamed and checked like `load_pool`.

    Shards written without `--flow` are refused with one line naming the database's shard
    folder and the ingest option that adds the flow."""
    pool = load_pool(keys, shard_of, workers, convert=_to_flow_clip)
    problems = sorted(k for k, v in pool.items() if isinstance(v, str))
    if problems:
        key = problems[0]
        shards = shard_of[key].parent
        if pool[key] == NO_FLOW:
            database = shards.parent.name
            raise MepipeError(
                f"the {database} shards hold no optical flow (sample {key} has no "
                f"{FLOW}.{ARRAY_EXT}); the flow models read it: re-ingest with "
                f"`{flow_ingest_line(database)}`",
                shards,
            )
        raise MepipeError(f"{pool[key]}; {VERIFY}", shard_of[key])
    return pool


def decode_uint8(data: bytes, size: int) -> torch.Tensor:
    """Encoded image -> uint8 RGB tensor (3, size, size) (OpenCV decode and resize)."""
    image = cv2.imdecode(np.frombuffer(data, np.uint8), cv2.IMREAD_COLOR)
    if image is None:
        raise MepipeError("cannot decode an image member of a shard sample")
    if image.shape[:2] != (size, size):
        image = cv2.resize(image, (size, size), interpolation=cv2.INTER_AREA)
    image = cv2.cvtColor(image, cv2.COLOR_BGR2RGB)
    return torch.from_numpy(image).permute(2, 0, 1)


def decode(data: bytes, size: int) -> torch.Tensor:
    """Encoded image -> float RGB tensor (3, size, size) in [0, 1]; the one conversion
    from bytes to [0, 1], which the device-resident clips (mepipe_train.resident) share."""
    return to_unit(decode_uint8(data, size))


def to_unit(images: torch.Tensor) -> torch.Tensor:
    """uint8 images -> float in [0, 1], on whatever device they are."""
    return images.float().div_(255)


class _EpochDataset(Dataset):
    """A training dataset whose random draws depend on (seed, epoch, index) only, so that
    they do not depend on the worker count and a resumed epoch draws what the interrupted
    one would have drawn. `epoch_loader` sets the epoch before each epoch."""

    def __init__(self, size: int, seed: int):
        self.size, self.seed, self.epoch = size, seed, 0

    def set_epoch(self, epoch: int) -> None:
        self.epoch = epoch

    def _rng(self, index: int) -> np.random.Generator:
        return np.random.default_rng([self.seed, self.epoch, index])


class PairDataset(_EpochDataset):
    """EIDNet pairs: (neutral, one of the five expression frames) of one clip, and its labels."""

    def __init__(
        self,
        pool: dict[str, ClipBytes],
        items: Sequence[Item],
        subject_index: dict[str, int],
        size: int,
        seed: int,
    ):
        super().__init__(size, seed)
        self.pool, self.items, self.subject_index = pool, list(items), subject_index

    def __len__(self) -> int:
        return len(self.items)

    def draw(self, index: int) -> int:
        """The expression frame (0-4) of sample `index` in this epoch."""
        return int(self._rng(index).integers(5))

    def __getitem__(self, index: int) -> dict:
        item = self.items[index]
        clip = self.pool[item.key]
        frame = self.draw(index)
        return {
            "key": item.key,
            "neutral": decode(clip.neutral, self.size),
            "expression": decode(clip.expressions[frame], self.size),
            "label": item.label,
            "subject": self.subject_index[f"{item.database}/{item.subject}"],
        }


class TripletDataset(_EpochDataset):
    """MTMNet triplets (docs/training.md, decisions): each micro training clip is an anchor once
    per epoch; the positive is a macro clip of the same label, the negative a micro clip of
    another label, both drawn uniformly from the fold's training side only.

    Where no positive (or negative) exists, `has_pos` (`has_neg`) is 0 and the anchor stands
    in; the losses that need it skip that row.
    """

    def __init__(
        self,
        micro: dict[str, ClipBytes],
        macro: dict[str, ClipBytes],
        anchors: Sequence[Item],
        macro_items: Sequence[Item],
        size: int,
        seed: int,
        with_positive: bool = True,
        with_negative: bool = True,
    ):
        super().__init__(size, seed)
        self.micro, self.macro = micro, macro
        self.anchors, self.macro_items = list(anchors), list(macro_items)
        self.with_positive, self.with_negative = with_positive, with_negative
        self.macro_by_label: dict[int, list[Item]] = {}
        for item in self.macro_items:
            self.macro_by_label.setdefault(item.label, []).append(item)
        labels = {item.label for item in self.anchors}
        self.negatives_for = {
            label: [i for i in self.anchors if i.label != label] for label in labels
        }

    def __len__(self) -> int:
        return len(self.anchors)

    def draw(self, index: int) -> tuple[Item, Item | None, Item | None, list[int]]:
        """Sample `index` of this epoch: anchor, positive, negative (None where there is
        none) and their expression frames (0-4). The streaming and the device-resident
        batches (mepipe_train.resident) both draw here, so they draw alike."""
        anchor = self.anchors[index]
        rng = self._rng(index)
        positives = self.macro_by_label.get(anchor.label, []) if self.with_positive else []
        negatives = self.negatives_for[anchor.label] if self.with_negative else []
        pos = positives[rng.integers(len(positives))] if positives else None
        neg = negatives[rng.integers(len(negatives))] if negatives else None
        return anchor, pos, neg, [int(f) for f in rng.integers(5, size=3)]

    def __getitem__(self, index: int) -> dict:
        anchor, pos, neg, frames = self.draw(index)
        pos_bytes = self.macro[pos.key].expressions[frames[1]] if pos else None
        neg_bytes = self.micro[neg.key].expressions[frames[2]] if neg else None
        anchor_bytes = self.micro[anchor.key].expressions[frames[0]]
        anchor_image = decode(anchor_bytes, self.size)
        return {
            "key": anchor.key,
            "pos_key": pos.key if pos else "",
            "neg_key": neg.key if neg else "",
            "anchor": anchor_image,
            "positive": decode(pos_bytes, self.size) if pos_bytes else anchor_image,
            "negative": decode(neg_bytes, self.size) if neg_bytes else anchor_image,
            "label": anchor.label,
            "has_pos": pos is not None,
            "has_neg": neg is not None,
        }


class PredictionDataset(Dataset):
    """Test time: all five expression frames of a clip (predictions average over them)."""

    def __init__(self, pool: dict[str, ClipBytes], items: Sequence[Item], size: int):
        self.pool, self.items, self.size = pool, list(items), size

    def __len__(self) -> int:
        return len(self.items)

    def __getitem__(self, index: int) -> dict:
        item = self.items[index]
        clip = self.pool[item.key]
        return {
            "key": item.key,
            "frames": torch.stack([decode(b, self.size) for b in clip.expressions]),
            "neutral": decode(clip.neutral, self.size),
            "label": item.label,
        }


def epoch_order(
    n: int, seed: int, epoch: int, rank: int = 0, world: int = 1, limit: int = 0
) -> list[int]:
    """This rank's sample indices for one epoch: a seeded shuffle, padded so every rank gets
    the same number (DDP needs equal step counts), cut to `limit` samples when set."""
    if n == 0:
        return []
    generator = torch.Generator().manual_seed(seed * 1_000_003 + epoch)
    order = torch.randperm(n, generator=generator).tolist()
    per_rank = -(-n // world)
    order = (order * (per_rank * world // n + 1))[: per_rank * world]
    mine = order[rank::world]
    return mine[:limit] if limit else mine


def epoch_loader(
    dataset: PairDataset | TripletDataset,
    epoch: int,
    seed: int,
    config: TrainConfig,
    rank: int = 0,
    world: int = 1,
) -> DataLoader:
    """One epoch of a training dataset on this rank: fresh random draws (expression frame,
    triplet partners), a seeded shuffle, at most `config.max_steps` batches when set."""
    dataset.set_epoch(epoch)
    limit = config.max_steps * config.batch_size
    return DataLoader(
        dataset,
        batch_size=config.batch_size,
        sampler=epoch_order(len(dataset), seed, epoch, rank, world, limit),
        num_workers=config.workers,
        persistent_workers=False,
        drop_last=False,
    )
