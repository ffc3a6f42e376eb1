"""One LOSO fold of a flow-based reference model (`--model ststnet|offapexnet`).

`mepipe_train.loso.run_fold` hands a fold here when `--model` is not eidnet, so the flow
models run under the same plan as EIDNet/MTMNet: the same split and folds (`--folds`), the
same fixed number of epochs (never chosen on the held-out subject), one phase per fold
through `mepipe_train.phase.run_phase` (checkpoint after every epoch, resume, step log,
progress bars, non-finite losses stopped), DDP through `mepipe_train.runtime`, and the same
`fold-NNN/predictions.parquet` that `loso.evaluate` pools into metrics.json and confusion.png.

Files of a fold: `fold-NNN/<model>.pt` (weights; `<model>.ckpt` while training),
`fold-NNN/<model>-log.csv`, `fold-NNN/heldout_by_epoch.parquet` (the held-out clips after
every epoch: the oracle and the report's curve, mepipe_train.heldout), `fold-NNN/timing.json`,
under --select inner-loso `fold-NNN/inner_selection.json` and `fold-NNN/inner/`
(mepipe_train.selection), and `fold-NNN/predictions.parquet`, written last. The model
trains on the fold's micro training clips only (no macro data, no MacroNet), like its paper.
"""

from __future__ import annotations

import time
from collections.abc import Sequence
from dataclasses import dataclass
from functools import partial
from pathlib import Path
from typing import TYPE_CHECKING

import numpy as np
import pandas as pd
import torch
import torch.nn.functional as F
from torch.utils.data import DataLoader, Dataset

from mepipe.atomic import write_parquet
from mepipe_train.config import TrainConfig
from mepipe_train.data import FLOW_CHANNELS, Item, epoch_order, load_flow_pool
from mepipe_train.eidnet import phase_seed
from mepipe_train.flownets import SETTINGS, new_flow_net
from mepipe_train.heldout import HELDOUT, INNER_VAL, EpochPredictions
from mepipe_train.phase import Phase, run_phase
from mepipe_train.predictions import prediction_table
from mepipe_train.runtime import Clock, Runtime
from mepipe_train.selection import InnerTrainer, select_epoch

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


def trained_epochs(config: TrainConfig) -> int:
    """How many epochs a fold's model trains: --epochs for MTMNet, the flow model's own
    (paper's or --flow-epochs) otherwise; the per-epoch files hold that many epochs."""
    return flow_run(config).epochs if config.model != "eidnet" else config.epochs


def model_title(config: TrainConfig) -> str:
    """The name of the fold's trained network, as the report writes it."""
    return {"ststnet": "STSTNet", "offapexnet": "OFF-ApexNet"}.get(config.model, "MTMNet")


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
    """Train the flow model of fold `number` on its micro training clips (after choosing its
    epoch on them under --select inner-loso), predicting the held-out clips after every
    epoch (heldout_by_epoch.parquet) and at the end (predictions.parquet, written last).
    Called by loso.run_fold, which skips a finished fold and refuses one without training
    clips."""
    from mepipe_train.loso import PREDICTIONS, fold_dir, write_timing

    fold = plan.folds[number]
    folder = fold_dir(run, number)
    settings = flow_run(config)
    began, runtime.clock = time.perf_counter(), Clock()
    with runtime.clock.part("load"):
        pool = load_flow_pool(
            [i.key for i in fold.train + fold.test], plan.shard_of, config.workers
        )
    train_pool = {i.key: pool[i.key] for i in fold.train}  # the held-out subject is not in it
    if config.select == "inner-loso":
        inner = flow_inner_trainer(config, runtime, number, plan.classes, train_pool)
        select_epoch(config, runtime, fold, plan.classes, folder, inner)
    test = FlowDataset(pool, fold.test, settings.channels)
    # diagnostics: given the held-out clips only after each epoch's weights exist
    diagnostics = EpochPredictions(
        folder / HELDOUT,
        partial(predict_flow, runtime=runtime, test=test, fold=number, classes=plan.classes),
        settings.model,
    )
    net = train_flow(
        config, runtime, fold.train, train_pool, len(plan.classes), folder,
        f"fold {number} {settings.model}", phase_seed(config.seed, number, settings.model),
        diagnostics,
    )  # fmt: skip
    if runtime.main:
        with runtime.clock.part("predict"):
            table = predict_flow(net, runtime, test, number, plan.classes)
        write_timing(folder, runtime.clock, time.perf_counter() - began, runtime)
        write_parquet(folder / PREDICTIONS, table)  # last: it marks the fold done
    runtime.barrier()


def train_flow(
    config: TrainConfig,
    runtime: Runtime,
    items: Sequence[Item],
    pool: dict[str, np.ndarray],
    n_classes: int,
    folder: Path,
    label: str,
    seed: int,
    after_epoch: EpochPredictions | None = None,
) -> torch.nn.Module:
    """One phase of the flow model on `items` into `folder/<model>.pt` (resumed from its
    checkpoint, or loaded when done: mepipe_train.phase.run_phase); `after_epoch` sees the
    weights of every epoch. Returns the trained (unwrapped) network."""
    settings = flow_run(config)
    torch.manual_seed(seed)
    net = runtime.place(new_flow_net(settings.model, n_classes))
    trained = runtime.wrap(net)
    optimizer = torch.optim.Adam(net.parameters(), lr=settings.lr)
    dataset = FlowDataset(pool, items, settings.channels)

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
    hook = (lambda epoch: after_epoch(net, epoch)) if after_epoch is not None else None
    run_phase(phase, runtime, make_loader, step, hook)
    return net


def flow_inner_trainer(
    config: TrainConfig,
    runtime: Runtime,
    number: int,
    classes: Sequence[str],
    train_pool: dict[str, np.ndarray],
) -> InnerTrainer:
    """The inner folds of a flow model (--select inner-loso): its one phase on the inner
    training items, predicting the inner validation items after every epoch."""
    model = flow_run(config).model

    def train_inner(j: int, inner: Path, train: list[Item], val: list[Item], name: str) -> None:
        channels = flow_run(config).channels
        writer = EpochPredictions(
            inner / INNER_VAL,
            partial(predict_flow, runtime=runtime, test=FlowDataset(train_pool, val, channels),
                    fold=number, classes=classes),
            model,
        )  # fmt: skip
        seed = phase_seed(config.seed, number, f"inner {j} {model}")
        train_flow(
            config, runtime, train, train_pool, len(classes), inner, f"{name} {model}", seed,
            writer,
        )  # fmt: skip

    return train_inner


@torch.no_grad()
def predict_flow(
    net: torch.nn.Module, runtime: Runtime, test: FlowDataset, fold: int, classes: Sequence[str]
) -> pd.DataFrame:
    """Class probabilities of every clip of `test` (the columns of every model's predictions:
    mepipe_train.predictions.prediction_table)."""
    net.eval()
    parts = []
    for batch in DataLoader(test, batch_size=256):  # in item order: no shuffling
        with runtime.autocast():
            logits = net(batch["x"].to(runtime.device))
        parts.append(logits.float().softmax(1).cpu().numpy())
    net.train()
    probs = np.concatenate(parts) if parts else np.zeros((0, len(classes)))
    return prediction_table(test.items, probs, fold, classes, "lower --flow-lr")
