"""Can the trainer learn the demo data, and does macro guidance help? A short CPU LOSO with
`--losses cls --no-eid` (the paper's baseline row) against the full method, and the flow
models (`--model ststnet`, `--model offapexnet`, with their paper settings) on the same
folds, UF1/UAR of each.

Data: the demo releases through the real pipeline when it works on this checkout
(`mepipe demo-data`, `mepipe ingest`, `mepipe split loso`), else the rendered data dir of
mepipe_train.synthetic (same demo face, faint micro motion, strong macro motion of the
same kinds). The script says which one it used. Both arms get the same data, folds,
epochs, seed and learning rates (the paper's, times --lr-scale: a few CPU epochs at
1e-5 would not move the weights). The flow models train with their own settings
(mepipe_train.flownets.SETTINGS: the papers' learning rates, batch sizes and epochs),
unless --flow-epochs is given.

    python benchmarks/learnability.py               # a few minutes on 2 cores
    python benchmarks/learnability.py --arms baseline,ststnet,offapexnet
"""

from __future__ import annotations

import argparse
import dataclasses
import subprocess
import sys
import tempfile
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))  # run from a checkout

import torch

from mepipe_train.config import TrainConfig
from mepipe_train.loso import run_loso
from mepipe_train.synthetic import SyntheticSpec, build

LR_FIELDS = [f.name for f in dataclasses.fields(TrainConfig) if "_lr_" in f.name]
# name -> (label, options); the EIDNet arms take the scaled learning rates
ARMS = {
    "baseline": ("cls, no EID (baseline)", dict(losses="cls", eid=False)),
    "full": ("full method (EID + MTM)", dict(losses="cls,tri,adv,lir", eid=True)),
    "ststnet": ("STSTNet (flow)", dict(model="ststnet")),
    "offapexnet": ("OFF-ApexNet (flow)", dict(model="offapexnet")),
}


def pipeline_data(root: Path) -> tuple[Path, Path] | None:
    """The demo releases through demo-data -> ingest -> split, or None if that fails here."""
    raw, data, split = root / "raw", root / "data", root / "split.parquet"
    steps = [["mepipe", "demo-data", str(raw)]]
    for database in ("casme2", "smic", "samm", "ckplus"):
        steps.append(
            ["mepipe", "ingest", database, str(raw / database), "--out", str(data)]
            + ["--flow", "tvl1"]  # the flow models read the onset->apex flow members
        )
    steps.append(
        [
            "mepipe",
            "split",
            "loso",
            "--protocol",
            "cde",
            "--data",
            str(data),
            "--macro",
            "ckplus",
            "--out",
            str(split),
        ]
    )
    for step in steps:
        done = subprocess.run(
            [sys.executable, "-m", "mepipe", *step[1:]], capture_output=True, text=True
        )
        if done.returncode != 0:
            print(
                f"pipeline unavailable ({' '.join(step[:3])}: {done.stderr.strip().splitlines()[-1:]})"
            )
            return None
    if not split.exists():
        print("pipeline unavailable (no split table was written)")
        return None
    return data, split


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--size", type=int, default=64)
    parser.add_argument("--subjects", type=int, default=3, help="subjects per micro database")
    parser.add_argument("--clips", type=int, default=6)
    parser.add_argument("--epochs", type=int, default=4)
    parser.add_argument("--lr-scale", type=float, default=10.0)
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--synthetic", action="store_true", help="skip the real pipeline")
    parser.add_argument(
        "--arms", default=",".join(ARMS), help=f"which to run, any of {','.join(ARMS)}"
    )
    parser.add_argument(
        "--flow-epochs", type=int, default=0, help="flow models' epochs (0: their papers')"
    )
    args = parser.parse_args()
    torch.set_num_threads(max(1, torch.get_num_threads()))
    seconds: dict[str, float] = {}
    with tempfile.TemporaryDirectory() as tmp:
        root = Path(tmp)
        found = None if args.synthetic else pipeline_data(root)
        if found:
            data, split = found
            source = "demo releases via mepipe demo-data/ingest/split"
        else:
            spec = SyntheticSpec(
                micro={"casme2": args.subjects, "smic": args.subjects},
                macro={"ckplus": args.subjects + 1},
                clips_per_subject=args.clips,
                size=args.size,
                flow=True,
            )
            data, split = root / "data", build(root / "data", spec)
            source = "mepipe_train.synthetic (rendered demo face)"
        base = TrainConfig(
            data=str(data), split=str(split), epochs=args.epochs, eid_epochs=args.epochs,
            batch_size=8, image_size=args.size, weights="none", workers=0, device="cpu",
            seed=args.seed,
        )  # fmt: skip
        lrs = {name: getattr(base, name) * args.lr_scale for name in LR_FIELDS}
        results = {}
        for arm in args.arms.split(","):
            name, change = ARMS[arm]
            if "model" in change:
                change = {**change, "flow_epochs": args.flow_epochs}
            else:
                change = {**change, **lrs}
            config = dataclasses.replace(base, out=str(root / arm), **change)
            began = time.perf_counter()
            results[name] = run_loso(config)["scores"]
            seconds[name] = time.perf_counter() - began
    print(f"data: {source}; {args.size} px, {args.epochs} epochs per phase, lr x{args.lr_scale}")
    print(f"{'arm':26} {'part':8} {'clips':>5} {'UF1':>6} {'UAR':>6} {'seconds':>8}")
    for name, scores in results.items():
        for part, s in scores.items():
            print(
                f"{name:26} {part:8} {s['samples']:5d} {s['uf1']:6.3f} {s['uar']:6.3f} "
                f"{seconds[name]:8.1f}"
            )


if __name__ == "__main__":
    main()
