"""`--jobs K`: a run's folds trained K at a time, each in its own process.

Why: at the paper's batch size one fold's steps leave most of a GPU idle (Python and
kernel-launch bound), and a fold's loading, checkpoints and prediction leave it idle too;
K folds side by side fill it (docs/performance.md). Folds are independent: MacroNet is
trained once, by the parent, before any worker starts (RUN/macronet.pt), and each worker
runs the very `loso.run_fold` of the serial loop, whose phases seed themselves from
(seed, fold, phase) alone, so a fold's result does not depend on which process ran it or
alongside what (bit-identical on CPU, where each worker uses the parent's thread count;
within bf16 noise on CUDA, where kernels may differ from run to run anyway).

Who writes what: a worker writes only inside the folder of the fold it holds, under that
fold's lock (`fold.lock`: another run on the same RUN cannot train it at the same time);
run-level files (config.json, macronet.*, predictions.parquet, metrics.json, ...) are the
parent's alone. The parent hands out folds one at a time over a pipe per worker (no shared
queue whose lock a killed worker could take with it), shows one progress line per running
fold and one overall bar, and gathers failures: a fold that fails, or whose worker is
killed, is reported by number in the final error line while the other folds go on and keep
their results; rerunning the command resumes it from its last checkpoint. Workers are
started with `spawn` (CUDA cannot be forked), ignore Ctrl-C (the parent ends them) and
exit when the parent dies.
"""

from __future__ import annotations

import os
import signal
import time
from collections import deque
from dataclasses import dataclass
from multiprocessing import get_context
from multiprocessing.connection import Connection, wait
from pathlib import Path
from typing import Any

import torch

from mepipe.errors import MepipeError, OptionError, one_line
from mepipe.parent_watch import exit_with_parent
from mepipe_train.config import TrainConfig
from mepipe_train.loso import Plan, fold_lock, load_macro_side, run_fold
from mepipe_train.resident import clip_bytes, resident_for
from mepipe_train.runtime import Runtime, start_run

# Device memory one fold's training takes besides its decoded clips, for --jobs auto: the
# CUDA context and workspaces, plus activations of ResNet-18 under bf16 that grow with the
# batch and the image area (an estimate from the H100 check, docs/performance.md).
FOLD_BASE_BYTES = 2 * 2**30
FOLD_BYTES_PER_IMAGE_224 = 100 * 2**20
MAX_JOBS_PER_GPU = 8


def fold_memory(config: TrainConfig, n_clips: int) -> int:
    """Estimated device memory of one fold's process (bytes). A flow model (a few thousand
    weights, 28x28 inputs) needs little beyond the CUDA context."""
    if config.model != "eidnet":
        return FOLD_BASE_BYTES
    area = (config.image_size / 224) ** 2
    return int(
        FOLD_BASE_BYTES
        + FOLD_BYTES_PER_IMAGE_224 * config.batch_size * area
        + clip_bytes(n_clips, config.image_size)
    )


def job_count(config: TrainConfig, runtime: Runtime, n_folds: int, n_clips: int = 0) -> int:
    """How many folds run at once: --jobs K, or auto (CUDA: as many as the free memory of
    the visible GPUs holds, at most 8 per GPU and one per two cores; CPU: 1, since a fold
    already uses every core through torch's threads, and its results depend on the thread
    count: see `worker_threads`)."""
    if config.jobs != "1" and runtime.distributed:
        raise OptionError(
            "--jobs runs folds in separate processes on one machine and cannot be combined "
            "with torchrun (where the ranks share each fold's batches): use --jobs 1"
        )
    if config.jobs != "auto":
        jobs = max(1, min(int(config.jobs), n_folds))
        if jobs > 1 and runtime.batch_hook is not None:
            raise MepipeError("a batch hook sees only its own process's batches: use --jobs 1")
        return jobs
    cores = os.cpu_count() or 1
    if runtime.cuda:
        gpus = torch.cuda.device_count()
        free = min(torch.cuda.mem_get_info(d)[0] for d in range(gpus))
        per_gpu = min(MAX_JOBS_PER_GPU, max(1, free // fold_memory(config, n_clips)))
        jobs = min(gpus * per_gpu, max(1, cores // 2))
    else:
        jobs = 1
    return max(1, min(jobs, n_folds))


def worker_threads(runtime: Runtime, jobs: int) -> int:
    """torch threads per worker. On CPU the parent's own count: CPU results depend on the
    thread count, and a fold must give what it gives in the serial run (to use the cores
    well, set OMP_NUM_THREADS to cores / K for both). On CUDA the arithmetic is the GPU's,
    so the cores are shared out: cores / K each."""
    if runtime.cuda:
        return max(1, (os.cpu_count() or 1) // jobs)
    return torch.get_num_threads()


@dataclass
class Job:
    """What a worker process needs (pickled to it by spawn)."""

    config: TrainConfig
    plan: Plan
    run: Path
    jobs: int
    threads: int  # torch threads of this process
    gpu: int | None  # CUDA device index, spread over the visible GPUs
    parent: int  # the parent's pid: the worker exits when it dies


class FoldProgress:
    """What `phase.run_phase` calls on `runtime.progress` (add_task, update, remove_task),
    sent to the parent as one line per fold: the phase and epoch, and the epoch's steps."""

    def __init__(self, conn: Connection, number: int):
        self.conn, self.number = conn, number
        self.tasks: dict[int, dict[str, Any]] = {}
        self.count, self.sent = 0, 0.0

    def add_task(self, description: str, total: float | None = None, completed: float = 0,
                 **fields: Any) -> int:  # fmt: skip
        self.count += 1
        self.tasks[self.count] = {"description": description.strip(), "total": total,
                                  "completed": completed, "losses": fields.get("losses", "")}  # fmt: skip
        self._send(now=True)
        return self.count

    def update(self, task: int, advance: float = 0, **fields: Any) -> None:
        state = self.tasks[task]
        state["completed"] += advance
        if "losses" in fields:
            state["losses"] = fields["losses"]
        self._send()

    def remove_task(self, task: int) -> None:
        self.tasks.pop(task, None)
        self._send(now=True)

    def _send(self, now: bool = False) -> None:
        """At most five updates a second, but every change of phase or epoch."""
        if not self.tasks or (not now and time.monotonic() - self.sent < 0.2):
            return
        self.sent = time.monotonic()
        inner = list(self.tasks.values())[-1]
        line = ", ".join(t["description"] for t in self.tasks.values())
        self.conn.send(("progress", line, inner["completed"], inner["total"], inner["losses"]))


def _message(exc: BaseException) -> str:
    if isinstance(exc, MepipeError):
        return one_line(exc, 400)
    return f"{type(exc).__name__}: {one_line(exc)}"


def _worker(job: Job, conn: Connection) -> None:
    """A worker process: MacroNet from RUN, then the folds the parent hands it, one by one."""
    signal.signal(signal.SIGINT, signal.SIG_IGN)  # Ctrl-C: the parent ends the workers
    exit_with_parent(job.parent)
    torch.set_num_threads(job.threads)
    try:
        runtime = start_run(job.config)
        if job.gpu is not None:
            runtime.device = torch.device("cuda", job.gpu)
            torch.cuda.set_device(runtime.device)
        runtime.resident = resident_for(job.config, runtime, job.plan.clip_count, job.jobs)
        macro = load_macro_side(job.config, runtime, job.plan, job.run)  # loads macronet.pt
    except Exception as exc:  # reported by the parent, which stops handing out folds
        conn.send(("broken", _message(exc)))
        return
    conn.send(("ready",))
    while (number := conn.recv()) is not None:
        runtime.progress = FoldProgress(conn, number)
        try:
            with fold_lock(runtime, job.run, number):
                run_fold(job.config, runtime, job.plan, job.run, number, macro)
        except Exception as exc:  # this fold failed; the worker goes on with the next
            conn.send(("failed", _message(exc)))
        else:
            conn.send(("done",))


@dataclass
class _Slot:
    process: Any
    conn: Connection
    fold: int | None = None
    line: Any = None  # its progress task


def run_in_parallel(
    config: TrainConfig, runtime: Runtime, plan: Plan, run: Path, numbers: list[int], jobs: int
) -> None:
    """Train `numbers` in `jobs` worker processes (MacroNet is already in RUN); raises one
    MepipeError naming every fold that failed once all the others are done."""
    context = get_context("spawn")
    todo = deque(numbers)
    failed: dict[int, str] = {}
    finished: set[int] = set()
    slots: dict[int, _Slot] = {}
    bars = runtime.progress
    overall = bars.add_task(f"{len(numbers)} folds, {jobs} at a time", total=len(numbers),
                            losses="") if bars else None  # fmt: skip
    threads = worker_threads(runtime, jobs)
    gpus = torch.cuda.device_count() if runtime.cuda else 0
    broken = ""

    def launch(slot: int) -> None:
        mine, theirs = context.Pipe()
        job = Job(config, plan, run, jobs, threads, slot % gpus if gpus else None, os.getpid())
        process = context.Process(target=_worker, args=(job, theirs), name=f"fold-worker-{slot}")
        process.start()
        theirs.close()
        slots[slot] = _Slot(process, mine)

    def hand_out(slot: _Slot) -> None:
        if bars and slot.line is not None:
            bars.remove_task(slot.line)
        slot.fold = slot.line = None
        if not todo or broken:
            slot.conn.send(None)
            return
        slot.fold = todo.popleft()
        if bars:
            slot.line = bars.add_task(f"fold {slot.fold}: starting", total=None, losses="")
        slot.conn.send(slot.fold)

    def ended(slot: _Slot, why: str) -> None:
        if slot.fold is not None:
            failed[slot.fold] = why
            if bars:
                bars.advance(overall)
        if bars and slot.line is not None:
            bars.remove_task(slot.line)

    try:
        for slot in range(min(jobs, len(todo))):
            launch(slot)
        while slots:
            wait([s.conn for s in slots.values()] + [s.process.sentinel for s in slots.values()],
                 timeout=1.0)  # fmt: skip
            for index, slot in list(slots.items()):
                try:
                    while slot.conn.poll():
                        message = slot.conn.recv()
                        kind = message[0]
                        if kind == "progress" and bars:
                            line, completed, total, losses = message[1:]
                            bars.update(slot.line, description=line, completed=completed,
                                        total=total, losses=losses)  # fmt: skip
                        elif kind in ("done", "failed"):
                            if kind == "done":
                                finished.add(slot.fold)
                            else:
                                failed[slot.fold] = message[1]
                            if bars:
                                bars.advance(overall)
                            hand_out(slot)
                        elif kind == "ready":
                            hand_out(slot)
                        elif kind == "broken":
                            broken = broken or message[1]
                except (EOFError, OSError):
                    pass  # the worker is gone; its sentinel says so below
                if not slot.process.is_alive():
                    slot.process.join()
                    code = slot.process.exitcode
                    how = f"killed by signal {-code}" if code < 0 else f"exit code {code}"
                    ended(slot, f"its worker process ended ({how})")
                    slot.conn.close()
                    del slots[index]
                    if todo and not broken:
                        launch(index)  # the other folds go on in a fresh worker
    finally:
        for slot in slots.values():  # only after an error in this loop (or Ctrl-C)
            slot.process.terminate()
            slot.process.join()
        if bars and overall is not None:
            bars.remove_task(overall)
    if broken:
        raise MepipeError(f"a fold worker could not start: {broken}")
    for number in numbers:
        if number not in finished and number not in failed:
            failed[number] = "not run"
    if failed:
        listed = "; ".join(f"fold {n}: {why}" for n, why in sorted(failed.items()))
        raise MepipeError(
            f"{len(failed)} of {len(numbers)} folds failed ({listed}); the other folds' "
            "results are kept, and rerunning the command resumes the failed ones"
        )
