"""Issue 11 item 5: each faithfulness option reaches the loss (one MTMNet step on a fixed
batch), `--losses cls,tri` applies no adversarial term at all, the per-term gradient norms
measure what they claim, and the per-epoch hook of the phase loop changes no training."""

from __future__ import annotations

import math

import pytest
import torch

from mepipe_train import losses as L
from mepipe_train.config import TrainConfig
from mepipe_train.eidnet import new_eidnet
from mepipe_train.mtmnet import mtm_step
from mepipe_train.phase import Phase, run_phase
from mepipe_train.runtime import Runtime

torch.set_num_threads(1)
SIZE = 32


def config(**changes) -> TrainConfig:
    options = dict(image_size=SIZE, weights="none", expr_dim=16, id_dim=16, device="cpu")
    return TrainConfig(**{**options, **changes})


def batch(b: int = 4) -> dict:
    g = torch.Generator().manual_seed(7)
    return {
        "key": [f"a{i}" for i in range(b)],
        "pos_key": [f"p{i}" for i in range(b)],
        "neg_key": [f"n{i}" for i in range(b)],
        "anchor": torch.rand(b, 3, SIZE, SIZE, generator=g),
        "positive": torch.rand(b, 3, SIZE, SIZE, generator=g),
        "negative": torch.rand(b, 3, SIZE, SIZE, generator=g),
        "label": torch.tensor([0, 1, 2, 0][:b]),
        "has_pos": torch.ones(b, dtype=torch.bool),
        "has_neg": torch.ones(b, dtype=torch.bool),
    }


def one_step(cfg: TrainConfig):
    """(losses, MicroNet after the step, discriminator before/after) from seed 0."""
    torch.manual_seed(0)
    micronet = new_eidnet(cfg, 3, 4)
    macronet = new_eidnet(cfg, 3, 4)
    step, micro, discriminator, _ = mtm_step(cfg, Runtime(torch.device("cpu")), micronet,
                                             macronet, "test")  # fmt: skip
    before = [p.detach().clone() for p in discriminator.parameters()]
    result = step(batch())
    grads = torch.cat([p.grad.flatten() for p in micro.encoder.parameters() if p.grad is not None])
    return result, grads, before, [p.detach() for p in discriminator.parameters()]


def test_lir_classifier_macro_gives_another_step_than_micro():
    micro, grads_micro, *_ = one_step(config(lir_classifier="micro", lambda_lir=1.0))
    macro, grads_macro, *_ = one_step(config(lir_classifier="macro", lambda_lir=1.0))
    assert micro["L_cls"] == macro["L_cls"]  # the same network, batch and L_cls
    assert micro["L_LIR"] != macro["L_LIR"]  # another bound L_cls'
    assert not torch.allclose(grads_micro, grads_macro)


def test_cls_tri_applies_no_adversarial_term():
    result, grads, before, after = one_step(config(losses="cls,tri", lambda_adv=0.001))
    assert "L_adv" not in result and "L_D" not in result
    assert all(torch.equal(b, a) for b, a in zip(before, after, strict=True))  # D not stepped
    # a thousand times larger λ22 changes nothing: no adversarial term reaches the encoder
    _, grads_big, *_ = one_step(config(losses="cls,tri", lambda_adv=1000.0))
    assert torch.equal(grads, grads_big)
    # while with adv on, λ22 does reach it
    _, with_adv, *_ = one_step(config(losses="cls,tri,adv", lambda_adv=0.001))
    _, with_adv_big, *_ = one_step(config(losses="cls,tri,adv", lambda_adv=1000.0))
    assert not torch.allclose(with_adv, with_adv_big)


def test_gradient_norms_are_per_weighted_term_and_change_no_step():
    plain, grads_plain, *_ = one_step(config())
    logged, grads_logged, *_ = one_step(config(grad_norms=1))
    assert {"grad_cls", "grad_tri", "grad_adv", "grad_lir"} <= set(logged)
    assert not any(k.startswith("grad_") for k in plain)
    assert torch.equal(grads_plain, grads_logged)  # measuring does not change the step
    doubled, *_ = one_step(config(grad_norms=1, lambda_tri=2e-3))
    assert doubled["grad_tri"] == pytest.approx(2 * logged["grad_tri"], rel=1e-4)
    assert doubled["grad_cls"] == pytest.approx(logged["grad_cls"], rel=1e-5)
    ablation, *_ = one_step(config(grad_norms=1, losses="cls,tri"))
    assert "grad_adv" not in ablation and "grad_lir" not in ablation


def test_rec_loss_l2_is_the_plain_norm_of_eq_2():
    target, recon = torch.rand(2, 3, 8, 8), torch.rand(2, 3, 8, 8)
    rms = L.reconstruction_loss(target, recon)
    l2 = L.reconstruction_loss(target, recon, rms=False)
    assert l2 == pytest.approx(float(rms) * math.sqrt(3 * 8 * 8))
    expected = torch.linalg.vector_norm((target - recon).flatten(1), dim=1).mean()
    assert l2 == pytest.approx(float(expected))


def test_option_values_are_checked():
    with pytest.raises(Exception, match="--lir-classifier must be one of micro, macro"):
        config(lir_classifier="both")
    with pytest.raises(Exception, match="--rec-loss must be one of rms, l2"):
        config(rec_loss="l1")
    with pytest.raises(Exception, match="--select must be one of fixed, inner-loso"):
        config(select="oracle")
    with pytest.raises(Exception, match="--seeds names seed 1 twice"):
        config(seeds="1,1")


def train_tiny(folder, after_epoch=None) -> torch.Tensor:
    """Two epochs of a linear model whose steps draw from the global random state."""
    torch.manual_seed(0)
    model = torch.nn.Linear(4, 1)
    optimizer = torch.optim.SGD(model.parameters(), lr=0.1)

    def step(b: dict) -> dict[str, float]:
        x = torch.randn(3, 4)  # a draw: a hook that moved the random state would change it
        loss = model(x).pow(2).mean()
        optimizer.zero_grad()
        loss.backward()
        optimizer.step()
        return {"loss": loss.item()}

    phase = Phase("tiny", folder, "tiny", 2, {"model": model}, {"sgd": optimizer})
    run_phase(phase, Runtime(torch.device("cpu")), lambda e: [{"key": ["k"]}] * 2, step,
              after_epoch)  # fmt: skip
    return model.weight.detach().clone()


def test_the_per_epoch_hook_sees_each_epoch_and_changes_no_training(tmp_path):
    seen = []

    def hook(epoch: int) -> None:
        seen.append(epoch)
        torch.rand(5)  # a DataLoader draws a base seed from the global generator

    with_hook = train_tiny(tmp_path / "a", hook)
    assert seen == [0, 1]
    assert torch.equal(with_hook, train_tiny(tmp_path / "b"))
