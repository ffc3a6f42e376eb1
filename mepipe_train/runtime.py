"""Where training runs: device, torchrun process group, bf16 autocast, channels_last.

`torchrun --nproc-per-node N mepipe-train ...` sets RANK/WORLD_SIZE/LOCAL_RANK; `Runtime`
joins the process group (gloo on CPU, nccl on CUDA) and wraps trained modules in
DistributedDataParallel. Rank 0 alone writes files and shows progress.
"""

from __future__ import annotations

import contextlib
import os
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

import torch
from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeRemainingColumn
from torch import nn

from mepipe.errors import MepipeError
from mepipe_train.models import IMAGENET_MEAN, IMAGENET_STD

if TYPE_CHECKING:
    from mepipe_train.config import TrainConfig

# Called with (phase, keys of every clip in a training batch): tests use it to prove that
# no held-out key ever reaches training.
BatchHook = Callable[[str, list[str]], None]


@dataclass
class Clock:
    """Seconds per part of a fold's work (load, decode, data, steps, checkpoint, predict):
    where the wall-clock goes, written to fold-NNN/timing.json (docs/performance.md)."""

    seconds: dict[str, float] = field(default_factory=dict)

    def add(self, part: str, seconds: float) -> None:
        self.seconds[part] = self.seconds.get(part, 0.0) + seconds

    @contextlib.contextmanager
    def part(self, name: str) -> Iterator[None]:
        began = time.perf_counter()
        try:
            yield
        finally:
            self.add(name, time.perf_counter() - began)

    def take(self) -> dict[str, float]:
        """The seconds so far, rounded, and a fresh start."""
        taken = {k: round(v, 4) for k, v in self.seconds.items()}
        self.seconds = {}
        return taken


@dataclass
class Runtime:
    device: torch.device
    rank: int = 0
    world: int = 1
    batch_hook: BatchHook | None = None
    progress: Any = field(default=None, repr=False)  # rich Progress, or a fold's proxy of it
    checkpoint_every: int = 1  # epochs between resumable checkpoints (mepipe_train.phase)
    compile: bool = False  # torch.compile the placed networks
    # Decoded clips on the device (mepipe_train.resident), or None: batches are streamed.
    resident: Any = field(default=None, repr=False)
    clock: Clock = field(default_factory=Clock, repr=False)

    @property
    def cuda(self) -> bool:
        return self.device.type == "cuda"

    @property
    def main(self) -> bool:
        return self.rank == 0

    @property
    def distributed(self) -> bool:
        return self.world > 1

    def autocast(self) -> contextlib.AbstractContextManager:
        """bf16 autocast on CUDA; full precision on CPU (bf16 there is slow and inexact)."""
        if self.cuda:
            return torch.autocast("cuda", dtype=torch.bfloat16)
        return contextlib.nullcontext()

    def images(self, x: torch.Tensor) -> torch.Tensor:
        """A [0, 1] image batch on the device, ImageNet-normalised, channels_last on CUDA."""
        x = x.to(self.device, non_blocking=True)
        mean = torch.tensor(IMAGENET_MEAN, device=self.device).view(1, 3, 1, 1)
        std = torch.tensor(IMAGENET_STD, device=self.device).view(1, 3, 1, 1)
        x = (x - mean) / std
        return x.contiguous(memory_format=torch.channels_last) if self.cuda else x

    def place(self, module: nn.Module) -> nn.Module:
        module = module.to(self.device)
        if self.cuda:
            module = module.to(memory_format=torch.channels_last)
        if self.compile:
            compile_convolutions(module)
        return module

    def adam(self, groups: Any, **options: Any) -> torch.optim.Adam:
        """Adam as training uses it; with --compile on CUDA the fused kernel (one launch for
        all parameters; its rounding differs from the default's within float noise)."""
        if self.compile and self.cuda:
            options["fused"] = True
        return torch.optim.Adam(groups, **options)

    def wrap(self, module: nn.Module) -> nn.Module:
        """DistributedDataParallel under torchrun, the module itself otherwise."""
        if not self.distributed:
            return module
        ids = [self.device.index] if self.cuda else None
        # Phases and ablations leave parts of a network out of the loss (MTMNet never uses
        # the identity branch; --no-eid pretraining uses neither the decoder nor D_s), and
        # DDP refuses a second step unless it is told to look for such parameters.
        return nn.parallel.DistributedDataParallel(
            module, device_ids=ids, find_unused_parameters=True
        )

    def barrier(self) -> None:
        if self.distributed:
            torch.distributed.barrier()

    def record(self, phase: str, keys: list[str]) -> None:
        if self.batch_hook is not None:
            self.batch_hook(phase, [k for k in keys if k])


def compile_convolutions(module: nn.Module) -> None:
    """torch.compile the convolutional parts of a network (EIDNet's encoder and decoder),
    in place, so the state_dict keys (and checkpoints) stay the same, and every wrapper
    that calls them (MicroClassifier, DDP) runs the compiled code."""
    for child in module.children():
        if any(isinstance(m, nn.Conv2d | nn.ConvTranspose2d) for m in child.modules()):
            child.compile()


def pick_device(name: str) -> torch.device:
    local = int(os.environ.get("LOCAL_RANK", "0"))
    if name == "cuda" or (name == "auto" and torch.cuda.is_available()):
        if not torch.cuda.is_available():
            raise MepipeError("--device cuda: no CUDA device is visible to torch")
        return torch.device("cuda", local % torch.cuda.device_count())
    return torch.device("cpu")


def start(device: str, batch_hook: BatchHook | None = None) -> Runtime:
    """The runtime of this process: joins torchrun's process group when there is one."""
    dev = pick_device(device)
    world = int(os.environ.get("WORLD_SIZE", "1"))
    rank = int(os.environ.get("RANK", "0"))
    if world > 1 and not torch.distributed.is_initialized():
        if dev.type == "cuda":
            torch.cuda.set_device(dev)
        torch.distributed.init_process_group(backend="nccl" if dev.type == "cuda" else "gloo")
    return Runtime(device=dev, rank=rank, world=world, batch_hook=batch_hook)


def start_run(config: TrainConfig, batch_hook: BatchHook | None = None) -> Runtime:
    """`start` with the execution options of `config` (checkpoint interval, compile)."""
    runtime = start(config.device, batch_hook)
    runtime.checkpoint_every = config.checkpoint_every
    runtime.compile = config.compile
    return runtime


def stop(runtime: Runtime) -> None:
    if runtime.distributed and torch.distributed.is_initialized():
        torch.distributed.destroy_process_group()


@contextlib.contextmanager
def progress_bars(runtime: Runtime) -> Iterator[Progress | None]:
    """A rich progress display on rank 0 (per phase and per epoch), nothing elsewhere."""
    if not runtime.main:
        yield None
        return
    bars = Progress(
        TextColumn("{task.description}"),
        BarColumn(),
        MofNCompleteColumn(),
        TimeRemainingColumn(),
        TextColumn("{task.fields[losses]}"),
    )
    runtime.progress = bars
    with bars:
        yield bars
    runtime.progress = None
