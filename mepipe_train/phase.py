"""One training phase (MacroNet, a fold's MicroNet, a fold's MTMNet): the epoch loop with
checkpoints, a per-step loss log and progress bars.

A phase saves `<name>.ckpt` (weights, optimiser states, random states, epochs done, log
rows) every `--checkpoint-every` epochs (default 1: after every epoch but the last),
atomically, and `<name>.pt` (final weights) at the end. Rerun after
a crash, it loads the checkpoint and carries on with the next epoch; since every random draw
is seeded by (seed, epoch, index), the resumed run computes what the uninterrupted one would
have. Both files are read with `weights_only=True` (mepipe_train.checkpoint): a run folder
may come from another machine, and loading it must never run code.
A fixed number of epochs is trained: no epoch is ever chosen by a held-out score.
A loss that stops being finite ends the run with an error naming the phase, epoch, step
and loss term, before that epoch is saved: diverged weights never give normal-looking
metrics, and the last checkpoint stays the last good one.
"""

from __future__ import annotations

import csv
import io
import math
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path

import torch
from torch import nn

from mepipe.atomic import write_bytes
from mepipe.errors import MepipeError, one_line
from mepipe_train.checkpoint import load_weights, restore_rng, rng_state
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
    """torch.save into memory, then written atomically: saved straight to the temporary
    file, the archive would take its random name, and equal weights would differ in bytes."""
    buffer = io.BytesIO()
    torch.save(obj, buffer)
    write_bytes(path, buffer.getvalue())


REDO = "delete it to redo the phase from its start"
# What every checkpoint holds; "rng" (random states) was added later and is optional, so
# that runs interrupted before it was stored still resume (no draw depends on it).
CHECKPOINT_KEYS = ("modules", "optimizers", "epochs_done", "log")


def _load_modules(phase: Phase, states: object, path: Path) -> None:
    """Weights for every module of `phase` from `states` (name -> state dict)."""
    if not isinstance(states, dict) or set(states) != set(phase.modules):
        raise MepipeError(f"does not hold the weights of {', '.join(phase.modules)}; {REDO}", path)
    for name, module in phase.modules.items():
        try:
            module.load_state_dict(states[name])
        except (RuntimeError, TypeError, KeyError, AttributeError) as exc:
            raise MepipeError(
                f"the {name} weights do not fit this run's network ({one_line(exc)}); {REDO}", path
            ) from None


def load_final(phase: Phase, device: torch.device) -> bool:
    """Load the finished phase's weights if it finished earlier; True when it did."""
    if not phase.final.exists():
        return False
    _load_modules(phase, load_weights(phase.final, device, REDO), phase.final)
    return True


def load_checkpoint(phase: Phase, device: torch.device) -> tuple[int, list[dict]]:
    """Restore an interrupted phase from its checkpoint; returns (epochs done, log rows).

    Every part is checked before use, so a damaged or foreign file is named, not trusted.
    """
    path = phase.checkpoint
    state = load_weights(path, device, REDO)
    if not isinstance(state, dict) or any(key not in state for key in CHECKPOINT_KEYS):
        raise MepipeError(
            f"not a training checkpoint (it lacks {', '.join(CHECKPOINT_KEYS)}); {REDO}", path
        )
    done, rows = state["epochs_done"], state["log"]
    if type(done) is not int or not 1 <= done <= phase.epochs:
        raise MepipeError(f"epochs_done is {done!r}, expected 1 to {phase.epochs}; {REDO}", path)
    if not isinstance(rows, list) or not all(isinstance(row, dict) for row in rows):
        raise MepipeError(f"its log is not a list of rows; {REDO}", path)
    _load_modules(phase, state["modules"], path)
    optimizers = state["optimizers"]
    if not isinstance(optimizers, dict) or set(optimizers) != set(phase.optimizers):
        raise MepipeError(
            f"does not hold the optimiser states of {', '.join(phase.optimizers)}; {REDO}", path
        )
    for name, optimizer in phase.optimizers.items():
        try:
            optimizer.load_state_dict(optimizers[name])
        except (ValueError, TypeError, KeyError, RuntimeError, AttributeError) as exc:
            raise MepipeError(
                f"the {name} optimiser state does not fit ({one_line(exc)}); {REDO}", path
            ) from None
    if "rng" in state:
        restore_rng(state["rng"], path)
    return done, rows


def check_finite(phase: Phase, epoch: int, number: int, losses: dict[str, float]) -> None:
    """Stop at the first non-finite loss, naming where and which term (1-based epoch, step)."""
    bad = {name: value for name, value in losses.items() if not math.isfinite(value)}
    if bad:
        terms = ", ".join(f"{name}={value}" for name, value in bad.items())
        raise MepipeError(
            f"{phase.label}, epoch {epoch + 1}, step {number + 1}: loss {terms} is not finite; "
            "training stopped before saving this epoch (lower the learning rates or loss "
            "weights, or check the data)"
        )


def run_phase(phase: Phase, runtime: Runtime, make_loader: LoaderFn, step: StepFn) -> None:
    """Train `phase` for its epochs (or what is left of them), saving a checkpoint every
    `runtime.checkpoint_every` epochs; the time spent goes to `runtime.clock`."""
    if load_final(phase, runtime.device):
        return
    start, rows = 0, []
    if phase.checkpoint.exists():
        start, rows = load_checkpoint(phase, runtime.device)
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
        waited = time.perf_counter()
        for number, batch in enumerate(batches):
            began = time.perf_counter()
            runtime.clock.add("data", began - waited)  # waiting for the loader
            losses = step(batch)  # ends in .item(): the time includes the device's work
            seconds = time.perf_counter() - began
            runtime.clock.add("steps", seconds)
            check_finite(phase, epoch, number, losses)
            rows.append(
                {
                    "phase": phase.label,
                    "epoch": epoch,
                    "step": number,
                    "samples": len(batch["key"]),
                    "seconds": seconds,
                    **losses,
                }
            )
            if bars:
                shown = " ".join(f"{k}={v:.3f}" for k, v in losses.items())
                bars.update(epoch_task, advance=1, losses=shown)
            waited = time.perf_counter()
        if bars:
            bars.remove_task(epoch_task)
            bars.update(phase_task, advance=1)
        if runtime.main and checkpoint_due(epoch + 1, phase.epochs, runtime.checkpoint_every):
            saving = time.perf_counter()
            _save(
                {
                    "modules": {n: m.state_dict() for n, m in phase.modules.items()},
                    "optimizers": {n: o.state_dict() for n, o in phase.optimizers.items()},
                    "epochs_done": epoch + 1,
                    "log": rows,
                    "rng": rng_state(),
                },
                phase.checkpoint,
            )
            write_bytes(phase.log, rows_to_csv(rows))
            runtime.clock.add("checkpoint", time.perf_counter() - saving)
        runtime.barrier()
    if bars:
        bars.remove_task(phase_task)
    if runtime.main:
        with runtime.clock.part("checkpoint"):
            _save({n: m.state_dict() for n, m in phase.modules.items()}, phase.final)
            write_bytes(phase.log, rows_to_csv(rows))
            phase.checkpoint.unlink(missing_ok=True)
    runtime.barrier()


def checkpoint_due(done: int, epochs: int, every: int) -> bool:
    """Whether the checkpoint is saved after `done` epochs: every `every` epochs, but not
    after the last one, where the final weights (`<name>.pt`) are saved instead."""
    return done < epochs and done % every == 0


def rows_to_csv(rows: list[dict]) -> bytes:
    columns: list[str] = []
    for row in rows:
        columns += [k for k in row if k not in columns]
    buffer = io.StringIO()
    writer = csv.DictWriter(buffer, fieldnames=columns)
    writer.writeheader()
    writer.writerows(rows)
    return buffer.getvalue().encode()
