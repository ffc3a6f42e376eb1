"""Clips decoded once and kept on the device, and training batches drawn from them there.

`--data-on-device` (docs/training.md, Speed): the streaming path decodes every JPEG of every
batch again in DataLoader workers each epoch and copies the batch to the device. Micro-
expression sets are tiny (CDE at 224 px: 442 clips x 6 frames, about 400 MB as uint8), so a
process instead decodes each clip once into a uint8 tensor (6, 3, S, S) on the device
(neutral first, then the five expression frames) and builds each batch by indexing it.

The random draws are the streaming datasets' own (`PairDataset.draw`, `TripletDataset.draw`,
seeded by (seed, epoch, index)) over the same `epoch_order`, and the uint8 -> [0, 1]
conversion is `data.to_unit`, so a batch holds the same keys and the same values as the
streamed one (on CPU the results are bit-identical; a test checks it). The datasets hold
only the fold's training items, so a held-out clip, although decoded (prediction needs
it), is never drawn into a training batch.

A process keeps its decoded clips across folds (`ResidentClips` only decodes keys it does
not hold yet): every fold uses the same micro and macro clips, on the training or the test
side.
"""

from __future__ import annotations

from collections.abc import Iterator, Sequence

import torch

from mepipe_train.config import TrainConfig
from mepipe_train.data import (
    ClipBytes,
    Item,
    PairDataset,
    TripletDataset,
    decode_uint8,
    epoch_loader,
    epoch_order,
    to_unit,
)
from mepipe_train.runtime import Runtime

FRAMES = 6  # neutral + five expression frames
# Share of the free device memory the decoded clips may take with --data-on-device auto.
AUTO_SHARE = 0.25


class ResidentClips:
    """Decoded clips on one device: uint8 tensors (N, 6, 3, S, S), found by key."""

    def __init__(self, device: torch.device, size: int):
        self.device, self.size = device, size
        self.parts: list[torch.Tensor] = []
        self.where: dict[str, tuple[int, int]] = {}  # key -> (part, row)

    def __contains__(self, key: str) -> bool:
        return key in self.where

    def add(self, pool: dict[str, ClipBytes]) -> int:
        """Decode the clips of `pool` not held yet (as one new part); returns how many."""
        keys = sorted(k for k in pool if k not in self.where)
        if not keys:
            return 0
        clips = torch.empty((len(keys), FRAMES, 3, self.size, self.size), dtype=torch.uint8)
        for row, key in enumerate(keys):
            clip = pool[key]
            for frame, data in enumerate((clip.neutral, *clip.expressions)):
                clips[row, frame] = decode_uint8(data, self.size)
        self.parts.append(clips.to(self.device))
        part = len(self.parts) - 1
        self.where.update({key: (part, row) for row, key in enumerate(keys)})
        return len(keys)

    def images(self, keys: Sequence[str], frames: Sequence[int]) -> torch.Tensor:
        """Frame `frames[i]` (0: neutral, 1-5: expression frames) of clip `keys[i]`, as a
        float batch in [0, 1] on the device; one gather per part."""
        located = [self.where[k] for k in keys]
        out = torch.empty((len(keys), 3, self.size, self.size), dtype=torch.uint8,
                          device=self.device)  # fmt: skip
        for part in sorted({p for p, _ in located}):
            at = [i for i, (p, _) in enumerate(located) if p == part]
            rows = torch.tensor([located[i][1] for i in at], device=self.device)
            chosen = torch.tensor([frames[i] for i in at], device=self.device)
            out[torch.tensor(at, device=self.device)] = self.parts[part][rows, chosen]
        return to_unit(out)

    @property
    def bytes(self) -> int:
        return sum(p.numel() for p in self.parts)


def clip_bytes(n_clips: int, size: int) -> int:
    """Device memory the decoded clips take."""
    return n_clips * FRAMES * 3 * size * size


def resident_for(
    config: TrainConfig, runtime: Runtime, n_clips: int, jobs: int = 1
) -> ResidentClips | None:
    """The process's store of decoded clips under --data-on-device, or None (streaming):
    on, off, or auto (on for CUDA when the run's `n_clips` fit in a quarter of the free
    device memory, shared by `jobs` processes)."""
    if config.model != "eidnet":  # a flow model's inputs are 28x28 planes, held in memory
        return None
    wanted = config.data_on_device == "on"
    if config.data_on_device == "auto" and runtime.cuda:
        free, _ = torch.cuda.mem_get_info(runtime.device)
        wanted = clip_bytes(n_clips, config.image_size) * jobs < AUTO_SHARE * free
    return ResidentClips(runtime.device, config.image_size) if wanted else None


class ResidentBatches:
    """One epoch of a training dataset as batches gathered on the device: the same batches
    (keys, draws, order, sizes) as `data.epoch_loader`, with no DataLoader."""

    def __init__(
        self, dataset: PairDataset | TripletDataset, order: list[int], batch: int,
        clips: ResidentClips,
    ):  # fmt: skip
        self.dataset, self.clips, self.batch = dataset, clips, batch
        self.chunks = [order[i : i + batch] for i in range(0, len(order), batch)]

    def __len__(self) -> int:
        return len(self.chunks)

    def __iter__(self) -> Iterator[dict]:
        build = pair_batch if isinstance(self.dataset, PairDataset) else triplet_batch
        for chunk in self.chunks:
            yield build(self.dataset, chunk, self.clips)


def pair_batch(dataset: PairDataset, indices: list[int], clips: ResidentClips) -> dict:
    """PairDataset's batch of `indices` (what the DataLoader would collate)."""
    items = [dataset.items[i] for i in indices]
    keys = [i.key for i in items]
    frames = [1 + dataset.draw(i) for i in indices]
    return {
        "key": keys,
        "neutral": clips.images(keys, [0] * len(keys)),
        "expression": clips.images(keys, frames),
        "label": torch.tensor([i.label for i in items]),
        "subject": torch.tensor(
            [dataset.subject_index[f"{i.database}/{i.subject}"] for i in items]
        ),
    }


def triplet_batch(dataset: TripletDataset, indices: list[int], clips: ResidentClips) -> dict:
    """TripletDataset's batch of `indices`; a missing positive or negative is the anchor."""
    draws = [dataset.draw(i) for i in indices]
    anchors = [a for a, _, _, _ in draws]
    anchor_keys = [a.key for a in anchors]
    anchor = clips.images(anchor_keys, [1 + f[0] for *_, f in draws])

    def partner(slot: int) -> tuple[torch.Tensor, list[str], torch.Tensor]:
        chosen = [d[slot] for d in draws]
        keys = [c.key if c else a.key for c, a in zip(chosen, anchors, strict=True)]
        frames = [1 + (f[slot] if c else f[0]) for c, (*_, f) in zip(chosen, draws, strict=True)]
        present = torch.tensor([c is not None for c in chosen])
        return clips.images(keys, frames), [c.key if c else "" for c in chosen], present

    positive, pos_keys, has_pos = partner(1)
    negative, neg_keys, has_neg = partner(2)
    return {
        "key": anchor_keys,
        "pos_key": pos_keys,
        "neg_key": neg_keys,
        "anchor": anchor,
        "positive": positive,
        "negative": negative,
        "label": torch.tensor([a.label for a in anchors]),
        "has_pos": has_pos,
        "has_neg": has_neg,
    }


def epoch_batches(
    dataset: PairDataset | TripletDataset, epoch: int, seed: int, config: TrainConfig,
    runtime: Runtime,
):  # fmt: skip
    """One epoch of `dataset` on this rank: gathered on the device when the runtime holds
    the decoded clips (`runtime.resident`), streamed through a DataLoader otherwise."""
    if runtime.resident is None:
        return epoch_loader(dataset, epoch, seed, config, runtime.rank, runtime.world)
    dataset.set_epoch(epoch)
    limit = config.max_steps * config.batch_size
    order = epoch_order(len(dataset), seed, epoch, runtime.rank, runtime.world, limit)
    return ResidentBatches(dataset, order, config.batch_size, runtime.resident)


def prediction_frames(items: Sequence[Item], clips: ResidentClips) -> torch.Tensor:
    """The five expression frames of each clip, (len(items), 5, 3, S, S) in [0, 1]."""
    keys = [i.key for i in items for _ in range(5)]
    frames = [f for _ in items for f in range(1, 6)]
    images = clips.images(keys, frames)
    return images.view(len(items), 5, *images.shape[1:])
