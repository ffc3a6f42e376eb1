"""One LOSO fold end to end, where its wall-clock goes, and the full protocol's projected time.

On rendered data shaped like the paper's CDE composite (`--full`: SMIC, CASME II and SAMM
with 16 + 24 + 28 = 68 subjects of 7 clips, 476 micro clips against CDE's 442, and a CK+-sized
macro set of 47 subjects x 7 = 329 clips; without it a tiny set for CPU), in one run:

1. the bare ResNet-18 step (batch, size, device as below): the baseline every ratio uses;
2. MacroNet once, then fold 0 end to end with today's settings (`before`: shards streamed by
   DataLoader workers every epoch, a checkpoint after every epoch) and with this issue's
   (`after`: clips decoded once and kept on the device, --data-on-device on; checkpoints only
   at the end of a phase), each from its own run folder holding the same MacroNet;
3. optionally (`--jobs K`) K folds at once with `after`'s settings, measured;
4. per phase samples/s (step time), the fold's wall-clock samples/s and where its time went
   (fold-NNN/timing.json), the mean GPU utilisation during the fold (torch.cuda.utilization,
   "n/a" without NVML), and the projected time of the paper's protocol (MacroNet 20 epochs
   on 329 macro clips once; per fold 20 + 20 epochs over the other 67 subjects' clips; 68
   folds) at K = 1, 2, 4, 8 jobs.

Projection model (stated, not measured): a fold's time is its fixed part (load, decode,
prediction, start) plus its per-sample part (steps, data waits, checkpoints) scaled to the
paper's sample count; K folds share one GPU, so K of them take max(fold time, K x the
fold's GPU-busy time), GPU-busy = step time x utilisation (x 1 where utilisation is n/a,
e.g. on CPU, where K processes share the same cores and gain only the non-step part).

    OMP_NUM_THREADS=2 python benchmarks/loso_bench.py                 # CPU, tiny
    python benchmarks/loso_bench.py --device cuda --full --jobs 4     # GPU, CDE-sized
"""

from __future__ import annotations

import argparse
import json
import math
import shutil
import subprocess
import sys
import tempfile
import threading
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))  # run from a checkout
sys.path.insert(0, str(Path(__file__).resolve().parent))

import pandas as pd
import torch
import torch.nn.functional as F
from step_bench import pair_batch, timed
from torchvision.models import resnet18

from mepipe_train.config import TrainConfig
from mepipe_train.loso import run_loso
from mepipe_train.runtime import start
from mepipe_train.synthetic import SyntheticSpec, build

PAPER_EPOCHS = 20
PAPER_FOLDS = 68
CDE_MICRO = {"smic": 16, "casme2": 24, "samm": 28}
CK_SUBJECTS = 47


def nvidia_smi_utilisation() -> int:
    """GPU 0's utilisation from nvidia-smi (where torch has no pynvml)."""
    out = subprocess.run(
        ["nvidia-smi", "--query-gpu=utilization.gpu", "--format=csv,noheader,nounits", "-i", "0"],
        capture_output=True, text=True, check=True, timeout=5,
    )  # fmt: skip
    return int(out.stdout.split()[0])


class Utilisation:
    """Mean GPU utilisation (per cent) sampled every 0.2 s while running (torch's NVML
    reading, else nvidia-smi's); None on CPU or where neither answers."""

    def __init__(self, device: torch.device):
        self.device, self.samples, self.running = device, [], False

    def __enter__(self) -> Utilisation:
        if self.device.type != "cuda":
            return self
        for read in (lambda: torch.cuda.utilization(self.device), nvidia_smi_utilisation):
            try:
                read()
            except Exception:  # no pynvml / no nvidia-smi: try the next, else n/a
                continue
            self.read, self.running = read, True
            self.thread = threading.Thread(target=self._sample, daemon=True)
            self.thread.start()
            break
        return self

    def _sample(self) -> None:
        while self.running:
            self.samples.append(self.read())
            time.sleep(0.2)

    def __exit__(self, *exc) -> None:
        if self.running:
            self.running = False
            self.thread.join()

    @property
    def mean(self) -> float | None:
        return sum(self.samples) / len(self.samples) if self.samples else None


def bare_resnet_step(device: str, batch: int, size: int) -> float:
    """Seconds per step of a plain ResNet-18 classifier (Adam), as benchmarks/step_bench.py."""
    runtime = start(device)
    torch.manual_seed(0)
    net = runtime.place(resnet18(num_classes=3))
    optimizer = torch.optim.Adam(net.parameters(), lr=1e-4)

    def step(b: dict) -> dict[str, float]:
        with runtime.autocast():
            loss = F.cross_entropy(
                net(runtime.images(b["expression"])).float(), b["label"].to(runtime.device)
            )
        optimizer.zero_grad(set_to_none=True)
        loss.backward()
        optimizer.step()
        return {"loss": loss.item()}

    return timed(step, pair_batch(batch, size), 10, 3, runtime.cuda)


def fold_report(run: Path, number: int) -> dict:
    """Per phase samples/s and the fold's timing, from the run's files."""
    folder = run / f"fold-{number:03d}"
    timing = json.loads((folder / "timing.json").read_text())
    phases = {}
    samples = 0
    for name in ("micronet", "mtmnet"):
        log = pd.read_csv(folder / f"{name}-log.csv")
        phases[name] = log["samples"].sum() / log["seconds"].sum()
        samples += int(log["samples"].sum())
    return {"timing": timing, "phases": phases, "samples": samples}


def run_arm(config: TrainConfig, seed_from: Path | None) -> tuple[dict, float, float | None]:
    """run_loso of `config` (fold 0); returns its report, wall seconds and GPU use."""
    run = Path(config.out)
    if seed_from is not None:  # the same MacroNet: only the fold is measured
        run.mkdir(parents=True)
        for name in ("config.json", "macronet.pt", "macronet-log.csv"):
            shutil.copy(seed_from / name, run / name)
    device = torch.device("cuda") if config.device == "cuda" else torch.device("cpu")
    began = time.perf_counter()
    with Utilisation(device) as use:
        run_loso(config)
    return fold_report(run, 0), time.perf_counter() - began, use.mean


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--device", default="cpu", choices=["cpu", "cuda"])
    parser.add_argument("--full", action="store_true", help="CDE-sized data and paper epochs")
    parser.add_argument("--size", type=int, help="image size (default 224 with --full, else 64)")
    parser.add_argument("--batch", type=int, help="batch (default 32 with --full, else 8)")
    parser.add_argument("--epochs", type=int, help="epochs per phase (20 with --full, else 2)")
    parser.add_argument("--workers", type=int, default=2, help="DataLoader workers (before)")
    parser.add_argument("--jobs", type=int, default=0, help="also measure K folds at once")
    parser.add_argument("--compile", action="store_true", help="after arm with --compile")
    parser.add_argument("--work", default="", help="folder for data and runs (default: temp)")
    parser.add_argument("--json", default="", help="write the numbers here")
    args = parser.parse_args()
    size = args.size or (224 if args.full else 64)
    batch = args.batch or (32 if args.full else 8)
    epochs = args.epochs or (PAPER_EPOCHS if args.full else 2)
    work = Path(args.work or tempfile.mkdtemp(prefix="loso_bench_"))
    if args.full:
        spec = SyntheticSpec(micro=CDE_MICRO, macro={"ckplus": CK_SUBJECTS}, clips_per_subject=7,
                             size=size)  # fmt: skip
    else:
        spec = SyntheticSpec(micro={"casme2": 3, "smic": 3}, macro={"ckplus": 3},
                             clips_per_subject=4, size=size)  # fmt: skip
    began = time.perf_counter()
    split = build(work / "data", spec)
    rendered = time.perf_counter() - began
    table = pd.read_parquet(split)
    micro_clips = int((table[(table["fold"] == 0)]["domain"] == "micro").sum())
    macro_clips = int(((table["fold"] == 0) & (table["domain"] == "macro")).sum())
    bare = bare_resnet_step(args.device, batch, size)
    bare_rate = batch / bare
    base = dict(
        data=str(work / "data"), split=str(split), folds="0", epochs=epochs, eid_epochs=epochs,
        batch_size=batch, image_size=size, weights="none", device=args.device,
    )  # fmt: skip
    arms = {
        "before": dict(data_on_device="off", checkpoint_every=1, workers=args.workers),
        "after": dict(data_on_device="on", checkpoint_every=epochs, workers=0),
    }
    if args.compile:
        arms["after+compile"] = {**arms["after"], "compile": True}
    results, macro_seconds = {}, 0.0
    for n, (name, changes) in enumerate(arms.items()):
        config = TrainConfig(**base, **changes, out=str(work / name))
        seed = work / "before" if n else None
        results[name] = run_arm(config, seed)
        if not n:
            macro_log = pd.read_csv(work / "before" / "macronet-log.csv")
            macro_seconds = macro_log["seconds"].sum()
            macro_rate = macro_log["samples"].sum() / macro_seconds
    measured_jobs = None
    if args.jobs > 1:
        config = TrainConfig(**{**base, **arms["after"], "folds": f"0-{args.jobs - 1}"},
                             jobs=str(args.jobs), out=str(work / "jobs"))  # fmt: skip
        run = work / "jobs"
        run.mkdir()
        for name in ("config.json", "macronet.pt", "macronet-log.csv"):
            shutil.copy(work / "before" / name, run / name)
        t0 = time.perf_counter()
        with Utilisation(torch.device(args.device)) as use:
            run_loso(config)
        measured_jobs = (time.perf_counter() - t0, use.mean)

    card = torch.cuda.get_device_name(0) if args.device == "cuda" else "CPU"
    print(f"loso_bench: {card}, torch {torch.__version__}, {size} px, batch {batch}, "
          f"{epochs} epochs per phase, threads {torch.get_num_threads()}")  # fmt: skip
    print(f"data: {len(spec.micro)} micro databases, {sum(spec.micro.values())} subjects, "
          f"{micro_clips} micro clips in fold 0, {macro_clips} macro clips; rendered in "
          f"{rendered:.0f} s")  # fmt: skip
    print(f"bare ResNet-18 step: {bare * 1e3:.1f} ms, {bare_rate:.1f} samples/s (= 1.00)")
    print(f"MacroNet (once): {macro_rate:.1f} samples/s step time, {macro_seconds:.1f} s")
    print()
    header = f"{'fold 0':14} {'MicroNet/s':>10} {'MTMNet/s':>9} {'wall/s':>8} {'x bare':>7} {'GPU %':>6} {'x before':>8}"  # noqa: E501
    print(header)
    wall_rates = {}
    for name, (report, _, use) in results.items():
        wall_rates[name] = report["samples"] / report["timing"]["total"]
        print(
            f"{name:14} {report['phases']['micronet']:10.1f} {report['phases']['mtmnet']:9.1f} "
            f"{wall_rates[name]:8.1f} {wall_rates[name] / bare_rate:7.2f} "
            f"{'n/a' if use is None else f'{use:.0f}':>6} "
            f"{wall_rates[name] / wall_rates['before']:8.2f}"
        )
    print()
    parts = sorted({p for r, _, _ in results.values() for p in r["timing"]["seconds"]})
    print(f"{'seconds':14} " + " ".join(f"{p:>10}" for p in parts) + f" {'total':>8}")
    for name, (report, _, _) in results.items():
        seconds = report["timing"]["seconds"]
        print(f"{name:14} " + " ".join(f"{seconds.get(p, 0):10.2f}" for p in parts)
              + f" {report['timing']['total']:8.2f}")  # fmt: skip
    # Projection of the paper's protocol from the `after` arm (see the module docstring).
    report, _, use = results["after+compile" if args.compile else "after"]
    seconds, total = report["timing"]["seconds"], report["timing"]["total"]
    per_sample = seconds.get("steps", 0) + seconds.get("data", 0) + seconds.get("checkpoint", 0)
    fixed = total - per_sample
    paper_samples = 2 * PAPER_EPOCHS * 436  # MicroNet + MTMNet over a fold's ~436 clips
    fold_time = fixed + per_sample * paper_samples / report["samples"]
    busy = (
        seconds.get("steps", 0)
        * paper_samples
        / report["samples"]
        * (1.0 if use is None else use / 100)
    )
    macro_time = PAPER_EPOCHS * 329 / macro_rate
    print()
    print(f"projected paper protocol (68 folds, 20 + 20 epochs, MacroNet 20 epochs on 329 clips): "
          f"fold {fold_time:.0f} s, GPU-busy {busy:.0f} s, MacroNet {macro_time:.0f} s")  # fmt: skip
    for k in (1, 2, 4, 8):
        minutes = (macro_time + math.ceil(PAPER_FOLDS / k) * max(fold_time, k * busy)) / 60
        print(f"  K = {k}: {minutes:7.1f} min")
    if measured_jobs:
        wall, use_k = measured_jobs
        alone = results["after"][1]
        print(f"measured: {args.jobs} folds with --jobs {args.jobs} in {wall:.1f} s wall, "
              f"{wall / args.jobs:.1f} s per fold against {alone:.1f} s for fold 0 alone "
              f"(x{args.jobs * alone / wall:.2f} folds per hour; GPU "
              f"{'n/a' if use_k is None else f'{use_k:.0f} %'})")  # fmt: skip
    if args.json:
        Path(args.json).write_text(json.dumps({
            "bare_step_s": bare, "results": {k: v[0] for k, v in results.items()},
            "macro_rate": macro_rate, "measured_jobs": measured_jobs,
        }, indent=1, default=float))  # fmt: skip


if __name__ == "__main__":
    main()
