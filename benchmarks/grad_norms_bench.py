"""What `--grad-norms` shows at initialisation, and what it costs.

Builds MicroNet and MacroNet untrained (as at the start of MTMNet, `--weights none` unless
given), takes MTMNet steps on random triplets with the paper's λ2x = 1e-3, and prints each
weighted term's gradient norm on the encoder relative to L_cls's; then times the step with
norms measured on every step against the plain step (same run, same machine): the ratio is
the cost of `--grad-norms 1`.

    python benchmarks/grad_norms_bench.py --size 224 --batch 8 --steps 3
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

import torch

sys.path.insert(0, str(Path(__file__).resolve().parent))
from step_bench import timed, triplet_batch  # noqa: E402

from mepipe_train.config import TrainConfig  # noqa: E402
from mepipe_train.eidnet import new_eidnet  # noqa: E402
from mepipe_train.mtmnet import mtm_step  # noqa: E402
from mepipe_train.runtime import start  # noqa: E402


def make_step(config: TrainConfig, runtime):
    torch.manual_seed(0)
    micro = runtime.place(new_eidnet(config, 3, 20))
    macro = runtime.place(new_eidnet(config, 3, 20))
    step, *_ = mtm_step(config, runtime, micro, macro, "bench")
    return step


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--device", default="cpu", choices=["cpu", "cuda", "auto"])
    parser.add_argument("--size", type=int, default=224)
    parser.add_argument("--batch", type=int, default=8)
    parser.add_argument("--steps", type=int, default=3)
    parser.add_argument("--weights", default="none")
    args = parser.parse_args()
    runtime = start(args.device)
    common = dict(image_size=args.size, weights=args.weights, device=args.device)
    torch.manual_seed(1)
    batch = triplet_batch(args.batch, args.size)
    logged = make_step(TrainConfig(grad_norms=1, **common), runtime)(batch)
    base = logged["grad_cls"]
    print(f"{args.size} px, batch {args.batch}, weights {args.weights}, λ2x = 1e-3, first step")
    for term in ("cls", "tri", "adv", "lir"):
        norm = logged[f"grad_{term}"]
        print(f"  grad_{term:4} {norm:10.3e}   {norm / base:9.2e} of L_cls's")
    plain = timed(make_step(TrainConfig(**common), runtime), batch, args.steps, 1, runtime.cuda)
    measured = timed(
        make_step(TrainConfig(grad_norms=1, **common), runtime), batch, args.steps, 1, runtime.cuda
    )
    print(f"step {plain * 1e3:.0f} ms plain, {measured * 1e3:.0f} ms with --grad-norms 1: "
          f"ratio {measured / plain:.2f}")  # fmt: skip


if __name__ == "__main__":
    main()
