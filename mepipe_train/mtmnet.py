"""Phase 2: MTMNet fine-tunes MicroNet under a frozen MacroNet (Eq. 6-12), then predicts.

Per step: (1) if `adv` is on, the discriminator D takes one step on L_D with MacroNet's
positive embeddings as real and MicroNet's anchor embeddings (detached) as fake;
(2) MicroNet (encoder + classifier D_e) takes one step on
L_cls + λ21 L_tri + λ22 L_adv + λ23 L_LIR, with only the losses of `--losses` switched on.
L_cls' applies MicroNet's classifier D_e to the positive's embedding (the paper's
"same classifier"), as a fixed bound inside L_LIR; `--lir-classifier macro` applies
MacroNet's own (frozen) classifier instead. `--grad-norms N` logs every N steps how hard
each weighted term pushes the encoder (mepipe_train.gradnorms).
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from pathlib import Path

import numpy as np
import pandas as pd
import torch
import torch.nn.functional as F
from torch.utils.data import DataLoader

from mepipe_train import losses as L
from mepipe_train.config import TrainConfig
from mepipe_train.data import (
    ClipBytes,
    Item,
    PredictionDataset,
    TripletDataset,
)
from mepipe_train.gradnorms import encoder_grad_norms
from mepipe_train.models import Discriminator, EIDNet, MicroClassifier
from mepipe_train.phase import Phase, StepFn, run_phase
from mepipe_train.predictions import prediction_table
from mepipe_train.resident import epoch_batches, prediction_frames
from mepipe_train.runtime import Runtime


def _masked(loss_fn, mask: torch.Tensor, *tensors: torch.Tensor) -> torch.Tensor:
    """loss_fn over the rows of `mask`; a zero still tied to the graph when no row is set."""
    if bool(mask.any()):
        return loss_fn(*(t[mask] for t in tensors))
    return tensors[0].sum() * 0.0


def mtm_step(
    config: TrainConfig,
    runtime: Runtime,
    micronet: EIDNet,
    macronet: EIDNet | None,
    label: str,
) -> tuple[StepFn, MicroClassifier, Discriminator, dict[str, torch.optim.Optimizer]]:
    """The MTMNet training step, the modules it trains and their optimisers.

    Kept apart from the epoch loop so that benchmarks time exactly the step that trains.
    """
    use = config.uses
    micro = MicroClassifier(micronet)
    discriminator = runtime.place(Discriminator(config.expr_dim))
    trained = runtime.wrap(micro)
    trained_d = runtime.wrap(discriminator) if use("adv") else discriminator
    optimizer = runtime.adam(
        [
            {"params": micro.encoder.parameters(), "lr": config.mtm_lr_encoder},
            {"params": micro.classifier.parameters(), "lr": config.mtm_lr_classifier},
        ]
    )
    optimizer_d = runtime.adam(discriminator.parameters(), lr=config.mtm_lr_discriminator)
    macro = MicroClassifier(macronet) if macronet is not None else None
    if macro is not None:
        macro.eval().requires_grad_(False)  # MacroNet is fixed
    # L_cls' of L_LIR: MicroNet's D_e (default) or MacroNet's own classifier
    bound_classifier = (
        macro.classifier
        if macro is not None and config.lir_classifier == "macro"
        else micro.classifier
    )
    steps_done = [0]

    def step(batch: dict) -> dict[str, float]:
        runtime.record(label, list(batch["key"]) + list(batch["pos_key"]) + list(batch["neg_key"]))
        labels = batch["label"].to(runtime.device)
        has_pos = batch["has_pos"].to(runtime.device)
        has_neg = batch["has_neg"].to(runtime.device)
        n = labels.shape[0]
        images = [batch["anchor"]] + ([batch["negative"]] if use("tri") else [])
        result: dict[str, float] = {}
        with runtime.autocast():
            f, logits = trained(runtime.images(torch.cat(images)))
            f, logits = f.float(), logits.float()
            f_anc, f_neg, logits_anc = f[:n], f[n:], logits[:n]
            f_pos = macro_ce = None
            if macro is not None:
                with torch.no_grad():
                    f_pos, _ = macro(runtime.images(batch["positive"]))
                    f_pos = f_pos.float()
                    macro_ce = F.cross_entropy(
                        bound_classifier(f_pos).float(),
                        labels,
                        reduction="none",
                    )
            if use("adv"):
                both = torch.cat([f_pos[has_pos], f_anc.detach()[has_pos]])
                d_logits = trained_d(both).float()
                k = int(has_pos.sum())
                l_d = L.discriminator_loss(d_logits[:k], d_logits[k:]) if k else d_logits.sum() * 0
                optimizer_d.zero_grad(set_to_none=True)
                l_d.backward()
                optimizer_d.step()
                result["L_D"] = l_d.item()
            micro_ce = F.cross_entropy(logits_anc, labels, reduction="none")
            l_cls = micro_ce.mean()
            total = l_cls
            result["L_cls"] = l_cls.item()
            weighted = {"cls": l_cls}  # each term as it enters L_MTM
            if use("tri"):
                l_tri = _masked(
                    lambda a, p, q: L.triplet_loss(a, p, q, config.margin),
                    has_pos & has_neg,
                    f_anc,
                    f_pos,
                    f_neg,
                )
                weighted["tri"] = config.lambda_tri * l_tri
                total = total + weighted["tri"]
                result["L_tri"] = l_tri.item()
            if use("adv"):
                # The bare discriminator, not its DDP wrapper: only the encoder learns from
                # L_adv, and a rank whose batch has no macro positive skips this call, which
                # would leave the wrapper's gradient sync waiting for it.
                l_adv = _masked(
                    lambda a: L.generator_loss(discriminator(a).float()), has_pos, f_anc
                )
                weighted["adv"] = config.lambda_adv * l_adv
                total = total + weighted["adv"]
                result["L_adv"] = l_adv.item()
            if use("lir"):
                l_lir = _masked(L.lir_loss, has_pos, micro_ce, macro_ce)
                weighted["lir"] = config.lambda_lir * l_lir
                total = total + weighted["lir"]
                result["L_LIR"] = l_lir.item()
        if config.grad_norms and steps_done[0] % config.grad_norms == 0:
            result.update(encoder_grad_norms(weighted, micro.encoder.parameters()))
        steps_done[0] += 1
        optimizer.zero_grad(set_to_none=True)
        total.backward()
        optimizer.step()
        return {"L_MTM": total.item(), **result}

    return step, micro, discriminator, {"micro": optimizer, "discriminator": optimizer_d}


def train_mtmnet(
    config: TrainConfig,
    runtime: Runtime,
    micronet: EIDNet,
    macronet: EIDNet | None,
    anchors: Sequence[Item],
    macro_items: Sequence[Item],
    micro_pool: dict[str, ClipBytes],
    macro_pool: dict[str, ClipBytes],
    folder: Path,
    label: str,
    seed: int,
    after_epoch: Callable[[MicroClassifier, int], None] | None = None,
) -> MicroClassifier:
    """Fine-tune `micronet` on the fold's triplets; returns the fine-tuned classifier.

    `after_epoch(classifier, epoch)` sees the weights of each epoch (diagnostics only:
    mepipe_train.heldout)."""
    torch.manual_seed(seed)
    step, micro, discriminator, optimizers = mtm_step(config, runtime, micronet, macronet, label)
    dataset = TripletDataset(
        micro_pool,
        macro_pool,
        anchors,
        macro_items,
        config.image_size,
        seed,
        with_positive=macronet is not None,
        with_negative=config.uses("tri"),
    )

    def make_loader(epoch: int):
        return epoch_batches(dataset, epoch, seed, config, runtime)

    phase = Phase(
        name="mtmnet",
        folder=folder,
        label=label,
        epochs=config.epochs,
        modules={"micro": micro, "discriminator": discriminator},
        optimizers=optimizers,
    )
    micro.train()
    hook = (lambda epoch: after_epoch(micro, epoch)) if after_epoch is not None else None
    run_phase(phase, runtime, make_loader, step, hook)
    return micro


@torch.no_grad()
def predict(
    micro: MicroClassifier,
    runtime: Runtime,
    items: Sequence[Item],
    pool: dict[str, ClipBytes],
    config: TrainConfig,
    fold: int,
    classes: Sequence[str],
) -> pd.DataFrame:
    """Class probabilities of every test clip: the mean over its five expression frames
    (rows built by mepipe_train.predictions.prediction_table)."""
    micro.eval()
    by_key = {i.key: i for i in items}
    keys, parts = [], []
    for batch in prediction_batches(runtime, items, pool, config):
        frames = batch["frames"]
        b = frames.shape[0]
        with runtime.autocast():
            _, logits = micro(runtime.images(frames.flatten(0, 1)))
        parts.append(logits.float().softmax(1).view(b, 5, -1).mean(1).cpu().numpy())
        keys += list(batch["key"])
    micro.train()
    probs = np.concatenate(parts) if parts else np.zeros((0, len(classes)))
    return prediction_table(
        [by_key[k] for k in keys], probs, fold, classes, "lower the learning rates or loss weights"
    )


def prediction_batches(
    runtime: Runtime, items: Sequence[Item], pool: dict[str, ClipBytes], config: TrainConfig
):
    """The test clips in batches of `--batch-size` clips (5 frames each): gathered from the
    decoded clips when the runtime holds them, else decoded by a DataLoader (in this
    process when the fold has only a few batches: starting workers would cost more)."""
    if runtime.resident is not None:
        for start in range(0, len(items), config.batch_size):
            chunk = items[start : start + config.batch_size]
            yield {
                "key": [i.key for i in chunk],
                "frames": prediction_frames(chunk, runtime.resident),
            }
        return
    dataset = PredictionDataset(pool, items, config.image_size)
    workers = config.workers if len(items) > 4 * config.batch_size else 0
    yield from DataLoader(dataset, batch_size=config.batch_size, num_workers=workers)
