"""One LOSO fold of a flow-based reference model (`--model ststnet|offapexnet`).

`mepipe_train.loso.run_fold` hands a fold here when `--model` is not eidnet, so the flow
models run under the same plan as EIDNet/MTMNet: the same split and folds (`--folds`), the
same fixed number of epochs (never chosen on the held-out subject), one phase per fold
through `mepipe_train.phase.run_phase` (checkpoint after every epoch, resume, step log,
progress bars, non-finite losses stopped), DDP through `mepipe_train.runtime`, and the same
`fold-NNN/predictions.parquet` that `loso.evaluate` pools into metrics.json and confusion.png.

Files of a fold: `fold-NNN/<model>.pt` (weights; `<model>.ckpt` while training),
`fold-NNN/<model>-log.csv`, `fold-NNN/predictions.parquet`. The model trains on the fold's
micro training clips only (no macro data, no MacroNet), like its paper.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING

import numpy as np
import pandas as pd
import torch
import torch.nn.functional as F
from torch.utils.data import DataLoader, Dataset

from mepipe.atomic import write_parquet
from mepipe.errors import MepipeError
from mepipe_train.config import TrainConfig
from mepipe_train.data import FLOW_CHANNELS, Item, epoch_order, load_flow_pool
from mepipe_train.eidnet import phase_seed
from mepipe_train.flownets import SETTINGS, new_flow_net
from mepipe_train.phase import Phase, run_phase
from mepipe_train.runtime import Runtime

if TYPE_CHECKING:
    from mepipe_train.loso import Plan


@dataclass(frozen=True)
class FlowRun:
    """The settings a flow model trains with: the paper's, unless --flow-* overrides them."""

    model: str
    channels: tuple[int, ...]  # indices into data.FLOW_CHANNELS
    epochs: int
    lr: float
    batch_size: int


def flow_run(config: TrainConfig) -> FlowRun:
    paper = SETTINGS[config.model]
    return FlowRun(
        model=config.model,
        channels=tuple(FLOW_CHANNELS.index(c) for c in paper.channels),
        epochs=config.flow_epochs or paper.epochs,
        lr=config.flow_lr or paper.lr,
        batch_size=config.flow_batch_size or paper.batch_size,
    )


class FlowDataset(Dataset):
    """The 28x28 inputs of some clips (already in memory: a few KB each) and their labels."""

    def __init__(self, pool: dict[str, np.ndarray], items: Sequence[Item], channels):
        self.items = list(items)
        planes = [pool[i.key] for i in self.items]
        stacked = np.stack(planes) if planes else np.zeros((0, len(FLOW_CHANNELS), 1, 1))
        self.inputs = torch.from_numpy(stacked.astype(np.float32))[:, list(channels)]

    def __len__(self) -> int:
        return len(self.items)

    def __getitem__(self, index: int) -> dict:
        item = self.items[index]
        return {"key": item.key, "x": self.inputs[index], "label": item.label}


def run_flow_fold(
    config: TrainConfig, runtime: Runtime, plan: Plan, run: Path, number: int
) -> None:
    """Train the flow model of fold `number` on its micro training clips, then predict the
    held-out clips (skipped when the fold's predictions exist already)."""
    from mepipe_train.loso import PREDICTIONS, fold_dir

    fold = plan.folds[number]
    folder = fold_dir(run, number)
    if (folder / PREDICTIONS).exists():
        return
    if not fold.train:
        raise MepipeError(f"fold {number} has no training clips", config.split or config.data)
    settings = flow_run(config)
    pool = load_flow_pool([i.key for i in fold.train + fold.test], plan.shard_of, config.workers)
    seed = phase_seed(config.seed, number, settings.model)
    torch.manual_seed(seed)
    net = runtime.place(new_flow_net(settings.model, len(plan.classes)))
    trained = runtime.wrap(net)
    optimizer = torch.optim.Adam(net.parameters(), lr=settings.lr)
    dataset = FlowDataset(pool, fold.train, settings.channels)
    label = f"fold {number} {settings.model}"

    def make_loader(epoch: int) -> DataLoader:
        limit = config.max_steps * settings.batch_size
        order = epoch_order(len(dataset), seed, epoch, runtime.rank, runtime.world, limit)
        return DataLoader(dataset, batch_size=settings.batch_size, sampler=order)

    def step(batch: dict) -> dict[str, float]:
        runtime.record(label, list(batch["key"]))
        labels = batch["label"].to(runtime.device)
        with runtime.autocast():
            logits = trained(batch["x"].to(runtime.device)).float()
        loss = F.cross_entropy(logits, labels)
        optimizer.zero_grad(set_to_none=True)
        loss.backward()
        optimizer.step()
        return {"L_cls": loss.item()}

    phase = Phase(
        name=settings.model,
        folder=folder,
        label=label,
        epochs=settings.epochs,
        modules={"net": net},
        optimizers={"net": optimizer},
    )
    net.train()
    run_phase(phase, runtime, make_loader, step)
    if runtime.main:
        test = FlowDataset(pool, fold.test, settings.channels)
        table = predict_flow(net, runtime, test, number, plan.classes)
        write_parquet(folder / PREDICTIONS, table)
    runtime.barrier()


@torch.no_grad()
def predict_flow(
    net: torch.nn.Module, runtime: Runtime, test: FlowDataset, fold: int, classes: Sequence[str]
) -> pd.DataFrame:
    """Class probabilities of every held-out clip, in the columns mtmnet.predict writes."""
    net.eval()
    rows = []
    by_key = {i.key: i for i in test.items}
    for batch in DataLoader(test, batch_size=256):
        with runtime.autocast():
            logits = net(batch["x"].to(runtime.device))
        probs = logits.float().softmax(1).cpu().numpy()
        if not np.isfinite(probs).all():  # diverged weights must not read as class 0
            key = batch["key"][int(np.argmax(~np.isfinite(probs).all(1)))]
            raise MepipeError(
                f"fold {fold}: the trained network gives non-finite class probabilities "
                f"(clip {key}); lower --flow-lr"
            )
        for key, p in zip(batch["key"], probs, strict=True):
            item = by_key[key]
            pred = int(np.argmax(p))
            rows.append(
                {
                    "key": item.key,
                    "fold": fold,
                    "database": item.database,
                    "subject": item.subject,
                    "true_label": classes[item.label],
                    "true_index": item.label,
                    "pred_label": classes[pred],
                    "pred_index": pred,
                    **{f"prob_{c}": float(p[i]) for i, c in enumerate(classes)},
                }
            )
    net.train()
    return pd.DataFrame(rows)
