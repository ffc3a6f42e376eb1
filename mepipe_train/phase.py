"""One training phase (MacroNet, a fold's MicroNet, a fold's MTMNet): the epoch loop with
checkpoints, a per-step loss log and progress bars.

A phase saves `<name>.ckpt` (weights, optimiser states, epochs done, log rows) after every
epoch, atomically, and `<name>.pt` (final weights) at the end. Rerun after a crash, it
loads the checkpoint and carries on with the next epoch; since every random draw is seeded
by (seed, epoch, index), the resumed run computes what the uninterrupted one would have.
A fixed number of epochs is trained: no epoch is ever chosen by a held-out score.
"""

from __future__ import annotations

import csv
import io
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path

import torch
from torch import nn

from mepipe.atomic import atomic_path, write_bytes
from mepipe_train.runtime import Runtime

StepFn = Callable[[dict], dict[str, float]]
LoaderFn = Callable[[int], torch.utils.data.DataLoader]


@dataclass
class Phase:
    name: str  # e.g. macronet, micronet, mtmnet
    folder: Path  # where its files go (RUN or RUN/fold-NNN)
    label: str  # shown on the progress bar and in the log (e.g. "fold 3 micronet")
    epochs: int
    modules: dict[str, nn.Module]  # saved and restored (unwrapped, not DDP)
    optimizers: dict[str, torch.optim.Optimizer] = field(default_factory=dict)

    @property
    def final(self) -> Path:
        return self.folder / f"{self.name}.pt"

    @property
    def checkpoint(self) -> Path:
        return self.folder / f"{self.name}.ckpt"

    @property
    def log(self) -> Path:
        return self.folder / f"{self.name}-log.csv"


def _save(obj: object, path: Path) -> None:
    with atomic_path(path) as tmp:
        torch.save(obj, tmp)


def load_final(phase: Phase, device: torch.device) -> bool:
    """Load the finished phase's weights if it finished earlier; True when it did."""
    if not phase.final.exists():
        return False
    state = torch.load(phase.final, map_location=device, weights_only=True)
    for name, module in phase.modules.items():
        module.load_state_dict(state[name])
    return True


def run_phase(phase: Phase, runtime: Runtime, make_loader: LoaderFn, step: StepFn) -> None:
    """Train `phase` for its epochs (or what is left of them), saving after every epoch."""
    if load_final(phase, runtime.device):
        return
    start, rows = 0, []
    if phase.checkpoint.exists():
        state = torch.load(phase.checkpoint, map_location=runtime.device, weights_only=False)
        for name, module in phase.modules.items():
            module.load_state_dict(state["modules"][name])
        for name, optimizer in phase.optimizers.items():
            optimizer.load_state_dict(state["optimizers"][name])
        start, rows = state["epochs_done"], state["log"]
    bars = runtime.progress
    phase_task = (
        bars.add_task(phase.label, total=phase.epochs, completed=start, losses="") if bars else None
    )
    for epoch in range(start, phase.epochs):
        batches = make_loader(epoch)
        epoch_task = (
            bars.add_task(f"  epoch {epoch + 1}/{phase.epochs}", total=len(batches), losses="")
            if bars
            else None
        )
        for number, batch in enumerate(batches):
            began = time.perf_counter()
            losses = step(batch)  # ends in .item(): the time includes the device's work
            rows.append(
                {
                    "phase": phase.label,
                    "epoch": epoch,
                    "step": number,
                    "samples": len(batch["key"]),
                    "seconds": time.perf_counter() - began,
                    **losses,
                }
            )
            if bars:
                shown = " ".join(f"{k}={v:.3f}" for k, v in losses.items())
                bars.update(epoch_task, advance=1, losses=shown)
        if bars:
            bars.remove_task(epoch_task)
            bars.update(phase_task, advance=1)
        if runtime.main:
            _save(
                {
                    "modules": {n: m.state_dict() for n, m in phase.modules.items()},
                    "optimizers": {n: o.state_dict() for n, o in phase.optimizers.items()},
                    "epochs_done": epoch + 1,
                    "log": rows,
                },
                phase.checkpoint,
            )
            write_bytes(phase.log, rows_to_csv(rows))
        runtime.barrier()
    if bars:
        bars.remove_task(phase_task)
    if runtime.main:
        _save({n: m.state_dict() for n, m in phase.modules.items()}, phase.final)
        write_bytes(phase.log, rows_to_csv(rows))
        phase.checkpoint.unlink(missing_ok=True)
    runtime.barrier()


def rows_to_csv(rows: list[dict]) -> bytes:
    columns: list[str] = []
    for row in rows:
        columns += [k for k in row if k not in columns]
    buffer = io.StringIO()
    writer = csv.DictWriter(buffer, fieldnames=columns)
    writer.writeheader()
    writer.writerows(rows)
    return buffer.getvalue().encode()
