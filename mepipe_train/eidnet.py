"""Phase 1: pretrain an EIDNet (MicroNet per fold, MacroNet once) with L_EID (Eq. 5).

The identity game uses a gradient-reversal layer (models.GradientReversal): one backward
pass of L_c + λ11 L_rec + λ12 L_sim + L_s trains D_s to minimise L_s while the encoder
gets -λ13 dL_s/dθ_E, i.e. the encoder minimises L_c + λ11 L_rec + λ12 L_sim - λ13 L_s.
With --no-eid a network is trained on L_c alone (MacroNet, so that it can still guide) or
not at all (MicroNet, which then starts from the backbone weights).
"""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path

import torch
import torch.nn.functional as F

from mepipe_train import losses as L
from mepipe_train.config import TrainConfig
from mepipe_train.data import ClipBytes, Item, PairDataset
from mepipe_train.models import EIDNet, MicroClassifier
from mepipe_train.phase import Phase, StepFn, run_phase
from mepipe_train.resident import epoch_batches
from mepipe_train.runtime import Runtime


def new_eidnet(config: TrainConfig, n_classes: int, n_subjects: int) -> EIDNet:
    """An untrained EIDNet shaped by `config` (backbone, feature sizes, image size)."""
    return EIDNet(
        n_classes=n_classes,
        n_subjects=n_subjects,
        backbone=config.backbone,
        weights=config.weights,
        expr_dim=config.expr_dim,
        id_dim=config.id_dim,
        image_size=config.image_size,
        lambda_id=config.lambda_id,
    )


def phase_seed(seed: int, fold: int, phase: str) -> int:
    """A seed per (run seed, fold, phase): folds give the same result alone or together."""
    return (seed * 7919 + (fold + 1) * 104_729 + sum(map(ord, phase)) * 31) % (2**31)


def eid_step(
    config: TrainConfig, runtime: Runtime, net: EIDNet, label: str, with_eid: bool = True
) -> tuple[StepFn, torch.optim.Optimizer]:
    """The training step of one EIDNet (L_EID, or L_c alone without EID) and its optimiser.

    Kept apart from the epoch loop so that benchmarks time exactly the step that trains.
    """
    if with_eid:
        trained = runtime.wrap(net)
        groups = [
            {"params": net.encoder.parameters(), "lr": config.eid_lr_encoder},
            {"params": net.classifier.parameters(), "lr": config.eid_lr_classifier},
            {"params": net.subject_classifier.parameters(), "lr": config.eid_lr_classifier},
            {"params": net.decoder.parameters(), "lr": config.eid_lr_decoder},
        ]
    else:
        trained = runtime.wrap(MicroClassifier(net))
        groups = [
            {"params": net.encoder.parameters(), "lr": config.eid_lr_encoder},
            {"params": net.classifier.parameters(), "lr": config.eid_lr_classifier},
        ]
    optimizer = runtime.adam(groups)

    def step(batch: dict) -> dict[str, float]:
        runtime.record(label, list(batch["key"]))
        x_n, x_e = runtime.images(batch["neutral"]), runtime.images(batch["expression"])
        target = batch["expression"].to(runtime.device)
        labels = batch["label"].to(runtime.device)
        with runtime.autocast():
            if with_eid:
                out = trained(x_n, x_e)
                l_c = F.cross_entropy(out.logits.float(), labels)
                l_rec = L.reconstruction_loss(target, out.recon.float())
                l_sim = L.similarity_loss(out.id_e.float(), out.id_n.float())
                l_s = L.identity_loss(
                    out.subject_logits.float(), batch["subject"].to(runtime.device)
                )
                total = l_c + config.lambda_rec * l_rec + config.lambda_sim * l_sim + l_s
            else:
                _, logits = trained(x_e)
                l_c = F.cross_entropy(logits.float(), labels)
                total = l_c
        optimizer.zero_grad(set_to_none=True)
        total.backward()
        optimizer.step()
        if not with_eid:
            return {"L_c": l_c.item()}
        eid = l_c + config.lambda_rec * l_rec + config.lambda_sim * l_sim - config.lambda_id * l_s
        return {
            "L_EID": eid.item(),
            "L_c": l_c.item(),
            "L_rec": l_rec.item(),
            "L_sim": l_sim.item(),
            "L_s": l_s.item(),
        }

    return step, optimizer


def train_eidnet(
    config: TrainConfig,
    runtime: Runtime,
    items: Sequence[Item],
    pool: dict[str, ClipBytes],
    n_classes: int,
    folder: Path,
    name: str,
    label: str,
    seed: int,
    with_eid: bool = True,
) -> EIDNet:
    """Train (or resume, or load) one EIDNet on `items`; returns the unwrapped network.

    Subjects of `items` are D_s's classes: for a MicroNet that is the fold's training side.
    """
    subjects = sorted({f"{i.database}/{i.subject}" for i in items})
    subject_index = {s: n for n, s in enumerate(subjects)}
    torch.manual_seed(seed)
    net = runtime.place(new_eidnet(config, n_classes, len(subjects)))
    step, optimizer = eid_step(config, runtime, net, label, with_eid)
    dataset = PairDataset(pool, items, subject_index, config.image_size, seed)

    def make_loader(epoch: int):
        return epoch_batches(dataset, epoch, seed, config, runtime)

    phase = Phase(
        name=name,
        folder=folder,
        label=label,
        epochs=config.eid_epochs,
        modules={"net": net},
        optimizers={"adam": optimizer},
    )
    net.train()
    run_phase(phase, runtime, make_loader, step)
    return net
