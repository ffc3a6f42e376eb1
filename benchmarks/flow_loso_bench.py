"""How long a full demo LOSO of STSTNet takes on CPU, with the paper's settings (every fold,
800 epochs, batch 256, Adam 5e-5), against the README demo's EIDNet/MTMNet LOSO (two
folds, 64 px, a few steps: `mepipe_train.demo.DEMO`) timed in the same run.

Data: the demo releases through the real pipeline with flow (`mepipe demo-data`, `mepipe
ingest --flow tvl1`, `mepipe split loso`, as benchmarks/learnability.py does), else the
rendered data dir of mepipe_train.synthetic with flow. The script says which one it used.

    OMP_NUM_THREADS=1 python benchmarks/flow_loso_bench.py     # minutes on 2 cores
"""

from __future__ import annotations

import argparse
import sys
import tempfile
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))  # run from a checkout
sys.path.insert(0, str(Path(__file__).resolve().parent))

import pandas as pd
import torch
from learnability import pipeline_data

from mepipe_train.config import TrainConfig
from mepipe_train.demo import DEMO, demo_folds
from mepipe_train.flownets import SETTINGS
from mepipe_train.loso import run_loso
from mepipe_train.synthetic import SyntheticSpec, build


def timed(config: TrainConfig) -> tuple[float, dict]:
    began = time.perf_counter()
    metrics = run_loso(config)
    return time.perf_counter() - began, metrics


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--model", default="ststnet", choices=sorted(SETTINGS))
    parser.add_argument("--synthetic", action="store_true", help="skip the real pipeline")
    parser.add_argument("--data", help="an ingested data dir with flow (skips making one)")
    parser.add_argument("--split", help="its split parquet (with --data)")
    parser.add_argument("--threads", type=int, default=torch.get_num_threads())
    args = parser.parse_args()
    torch.set_num_threads(args.threads)
    with tempfile.TemporaryDirectory() as tmp:
        root = Path(tmp)
        if args.data:
            found = (Path(args.data), Path(args.split))
        else:
            found = None if args.synthetic else pipeline_data(root)
        if found:
            data, split = found
            source = args.data or "demo releases via mepipe demo-data/ingest --flow tvl1/split"
        else:
            spec = SyntheticSpec(
                micro={"casme2": 3, "smic": 3}, macro={"ckplus": 3}, clips_per_subject=6,
                size=64, flow=True,
            )  # fmt: skip
            data, split = root / "data", build(root / "data", spec)
            source = "mepipe_train.synthetic (rendered demo face, TV-L1 flow)"
        table = pd.read_parquet(split)
        common = dict(data=str(data), split=str(split))
        demo = TrainConfig(out=str(root / "demo"), folds=demo_folds(table), **common, **DEMO)
        flow = TrainConfig(
            out=str(root / args.model), model=args.model, workers=0, device="cpu", **common
        )
        demo_seconds, _ = timed(demo)
        flow_seconds, metrics = timed(flow)
        demo_folds_n = len(demo.fold_numbers(sorted(table["fold"].unique())))
        flow_folds_n = len(metrics["folds"])
        clips = int(((table["role"] == "test") & (table["domain"] == "micro")).sum())
    paper = SETTINGS[args.model]
    print(f"data: {source}; torch threads {args.threads}")
    print(f"{'run':44} {'folds':>5} {'seconds':>8} {'s/fold':>7}")
    rows = [
        ("README demo LOSO (EIDNet/MTMNet, baseline)", demo_folds_n, demo_seconds),
        (
            f"{args.model} full LOSO ({paper.epochs} ep, batch {paper.batch_size})",
            flow_folds_n,
            flow_seconds,
        ),
    ]
    for name, folds, seconds in rows:
        print(f"{name:44} {folds:5d} {seconds:8.1f} {seconds / folds:7.2f}")
    ratio = (flow_seconds / flow_folds_n) / (demo_seconds / demo_folds_n)
    print(f"per fold, {args.model} / README demo: {ratio:.2f}x")
    print(f"micro clips: {clips} (each held out once)")
    scores = metrics["scores"]["all"]
    print(
        f"{args.model} UF1 {scores['uf1']:.3f} UAR {scores['uar']:.3f} ({scores['samples']} clips)"
    )


if __name__ == "__main__":
    main()
