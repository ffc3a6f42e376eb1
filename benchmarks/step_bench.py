"""Time per training step of EIDNet and MTMNet against a plain ResNet-18 classifier step.

Same batch size, image size, device, precision and optimiser (Adam) for all three; the
EIDNet and MTMNet steps are the very functions training uses (eidnet.eid_step,
mtmnet.mtm_step). An EIDNet step encodes 2B images (neutral + expression) and decodes B;
an MTMNet step encodes 2B images in MicroNet (anchor + negative) and B in the frozen
MacroNet, and updates the discriminator too.

    python benchmarks/step_bench.py                      # CPU, batch 8, 128 px
    python benchmarks/step_bench.py --device cuda --batch 32 --size 224
"""

from __future__ import annotations

import argparse
import sys
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))  # run from a checkout

import torch
import torch.nn.functional as F
from torchvision.models import resnet18

from mepipe_train.config import TrainConfig
from mepipe_train.eidnet import eid_step, new_eidnet
from mepipe_train.mtmnet import mtm_step
from mepipe_train.runtime import start


def pair_batch(b: int, size: int) -> dict:
    return {
        "key": [f"k{i}" for i in range(b)],
        "neutral": torch.rand(b, 3, size, size),
        "expression": torch.rand(b, 3, size, size),
        "label": torch.randint(0, 3, (b,)),
        "subject": torch.randint(0, 20, (b,)),
    }


def triplet_batch(b: int, size: int) -> dict:
    return {
        "key": [f"a{i}" for i in range(b)],
        "pos_key": [f"p{i}" for i in range(b)],
        "neg_key": [f"n{i}" for i in range(b)],
        "anchor": torch.rand(b, 3, size, size),
        "positive": torch.rand(b, 3, size, size),
        "negative": torch.rand(b, 3, size, size),
        "label": torch.randint(0, 3, (b,)),
        "has_pos": torch.ones(b, dtype=torch.bool),
        "has_neg": torch.ones(b, dtype=torch.bool),
    }


def timed(step, batch: dict, steps: int, warmup: int, cuda: bool) -> float:
    """Mean seconds per step after `warmup` untimed steps."""
    for _ in range(warmup):
        step(batch)
    if cuda:
        torch.cuda.synchronize()
    began = time.perf_counter()
    for _ in range(steps):
        step(batch)
    if cuda:
        torch.cuda.synchronize()
    return (time.perf_counter() - began) / steps


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--device", default="cpu", choices=["cpu", "cuda", "auto"])
    parser.add_argument("--batch", type=int, default=8)
    parser.add_argument("--size", type=int, default=128)
    parser.add_argument("--steps", type=int, default=5)
    parser.add_argument("--warmup", type=int, default=2)
    parser.add_argument(
        "--compile", action="store_true", help="also time compiled EIDNet/MTMNet steps (--compile)"
    )
    args = parser.parse_args()
    torch.manual_seed(0)
    config = TrainConfig(
        image_size=args.size, weights="none", batch_size=args.batch, device=args.device
    )
    runtime = start(args.device)
    cuda = runtime.cuda

    plain = runtime.place(resnet18(num_classes=3))
    optimizer = torch.optim.Adam(plain.parameters(), lr=1e-4)

    def plain_step(batch: dict) -> dict[str, float]:
        with runtime.autocast():
            loss = F.cross_entropy(
                plain(runtime.images(batch["expression"])).float(),
                batch["label"].to(runtime.device),
            )
        optimizer.zero_grad(set_to_none=True)
        loss.backward()
        optimizer.step()
        return {"loss": loss.item()}

    eid_net = runtime.place(new_eidnet(config, 3, 20))
    step_eid, _ = eid_step(config, runtime, eid_net, "bench")
    micro = runtime.place(new_eidnet(config, 3, 20))
    macro = runtime.place(new_eidnet(config, 3, 20))
    step_mtm, *_ = mtm_step(config, runtime, micro, macro, "bench")

    results = {
        "ResNet-18 classifier": timed(
            plain_step, pair_batch(args.batch, args.size), args.steps, args.warmup, cuda
        ),
        "EIDNet (L_EID)": timed(
            step_eid, pair_batch(args.batch, args.size), args.steps, args.warmup, cuda
        ),
        "MTMNet (all losses)": timed(
            step_mtm, triplet_batch(args.batch, args.size), args.steps, args.warmup, cuda
        ),
    }
    if args.compile:  # the same steps with mepipe-train --compile, timed after compiling
        runtime.compile = True
        step_eid_c, _ = eid_step(config, runtime, runtime.place(new_eidnet(config, 3, 20)), "c")
        micro_c = runtime.place(new_eidnet(config, 3, 20))
        step_mtm_c, *_ = mtm_step(config, runtime, micro_c, macro, "c")
        for label, step, batch in (
            ("EIDNet compiled", step_eid_c, pair_batch(args.batch, args.size)),
            ("MTMNet compiled", step_mtm_c, triplet_batch(args.batch, args.size)),
        ):
            began = time.perf_counter()
            step(batch)
            print(f"{label}: first step (compiling) {time.perf_counter() - began:.1f} s")
            results[label] = timed(step, batch, args.steps, args.warmup, cuda)
    name = torch.cuda.get_device_name(runtime.device) if cuda else "CPU"
    print(
        f"device {name}, batch {args.batch}, {args.size} px, {args.steps} timed steps, torch {torch.__version__}"
    )
    base = results["ResNet-18 classifier"]
    print(f"{'step':24} {'ms/step':>9} {'clips/s':>9} {'x plain':>8}")
    for label, seconds in results.items():
        print(f"{label:24} {seconds * 1e3:9.1f} {args.batch / seconds:9.1f} {seconds / base:8.2f}")


if __name__ == "__main__":
    main()
