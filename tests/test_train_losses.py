"""Each loss on tiny hand-computed inputs, and the sign of the adversarial identity game."""

import math

import pytest
import torch
import torch.nn.functional as F

from mepipe_train import losses as L
from mepipe_train.models import Discriminator, EIDNet, GradientReversal

torch.set_num_threads(1)


def test_similarity_loss_is_mean_l2_distance():
    a = torch.tensor([[3.0, 4.0], [1.0, 1.0]])
    b = torch.tensor([[0.0, 0.0], [1.0, 1.0]])
    assert L.similarity_loss(a, b).item() == pytest.approx((5.0 + 0.0) / 2)


def test_reconstruction_loss_is_rms_error_per_sample():
    target = torch.zeros(2, 1, 2, 2)
    recon = torch.zeros(2, 1, 2, 2)
    recon[0] = 1.0  # norm 2 over 4 values -> 2 / sqrt(4) = 1
    recon[1, 0, 0, 0] = 2.0  # norm 2 -> 1
    assert L.reconstruction_loss(target, recon).item() == pytest.approx(1.0)
    recon[1] = 0.0
    assert L.reconstruction_loss(target, recon).item() == pytest.approx(0.5)


def test_triplet_loss_on_normalised_embeddings():
    anchor = torch.tensor([[2.0, 0.0]])  # normalised (1, 0)
    positive = torch.tensor([[0.0, 5.0]])  # (0, 1): distance sqrt(2)
    negative = torch.tensor([[-3.0, 0.0]])  # (-1, 0): distance 2
    expected = max(math.sqrt(2) - 2 + 1.0, 0)
    assert L.triplet_loss(anchor, positive, negative, 1.0).item() == pytest.approx(
        expected, abs=1e-6
    )
    assert L.triplet_loss(anchor, positive, negative, 0.5).item() == pytest.approx(0.0, abs=1e-6)
    # batch mean of a hinge that is active for one row and not the other
    two = L.triplet_loss(
        anchor.repeat(2, 1), torch.tensor([[0.0, 5.0], [1.0, 0.0]]), negative.repeat(2, 1), 1.0
    )
    assert two.item() == pytest.approx(expected / 2, abs=1e-6)


def test_discriminator_and_generator_losses():
    sig = lambda z: 1 / (1 + math.exp(-z))  # noqa: E731
    real, fake = torch.tensor([0.5]), torch.tensor([-1.0])
    expected_d = -math.log(sig(0.5)) - math.log(1 - sig(-1.0))
    assert L.discriminator_loss(real, fake).item() == pytest.approx(expected_d, rel=1e-6)
    assert L.generator_loss(fake).item() == pytest.approx(-math.log(sig(-1.0)), rel=1e-6)
    # the generator loss falls as D is fooled (fake scored as real)
    assert L.generator_loss(torch.tensor([3.0])) < L.generator_loss(torch.tensor([-3.0]))


def test_lir_loss_hinges_and_treats_macro_loss_as_bound():
    micro = torch.tensor([1.5, 0.2], requires_grad=True)
    macro = torch.tensor([0.5, 0.7], requires_grad=True)
    loss = L.lir_loss(micro, macro)
    assert loss.item() == pytest.approx((1.0 + 0.0) / 2)
    loss.backward()
    assert micro.grad.tolist() == [0.5, 0.0]
    assert macro.grad is None  # L_cls' is a fixed bound: no push to do worse on macro


def test_identity_loss_is_cross_entropy():
    logits = torch.tensor([[2.0, 0.0, 0.0]])
    expected = -math.log(math.exp(2) / (math.exp(2) + 2))
    assert L.identity_loss(logits, torch.tensor([0])).item() == pytest.approx(expected, rel=1e-6)


def test_gradient_reversal_flips_and_scales():
    x = torch.tensor([1.0, -2.0], requires_grad=True)
    (GradientReversal(0.1)(x) * torch.tensor([3.0, 4.0])).sum().backward()
    assert x.grad.tolist() == pytest.approx([-0.3, -0.4])


def test_identity_game_sign_encoder_ascends_subject_loss_classifier_descends():
    """One backward of EIDNet's loss: D_s's gradient lowers L_s, the encoder's raises it."""
    torch.manual_seed(0)
    net = EIDNet(
        n_classes=3,
        n_subjects=4,
        weights="none",
        expr_dim=16,
        id_dim=16,
        image_size=32,
        lambda_id=0.1,
    )
    net.eval()  # fixed BatchNorm statistics, so L_s is a plain function of the weights
    x_n, x_e = torch.rand(4, 3, 32, 32), torch.rand(4, 3, 32, 32)
    subjects = torch.tensor([0, 1, 2, 3])

    def subject_loss() -> torch.Tensor:
        return L.identity_loss(net(x_n, x_e).subject_logits, subjects)

    loss = subject_loss()
    net.zero_grad()
    loss.backward()
    branch = net.encoder.expression[0].weight
    head = net.subject_classifier[-1].weight
    g_branch, g_head = branch.grad.clone(), head.grad.clone()
    # The encoder gets exactly -λ13 times the true gradient of L_s ...
    true = torch.autograd.grad(
        F.cross_entropy(net.subject_classifier(net.encoder(x_e)[0]), subjects), branch
    )[0]
    assert torch.allclose(g_branch, -0.1 * true, atol=1e-6)
    # ... so a descent step on the encoder raises L_s, one on D_s lowers it.
    with torch.no_grad():
        branch -= 1e-2 * g_branch / g_branch.norm()
    raised = subject_loss().item()
    with torch.no_grad():
        branch += 1e-2 * g_branch / g_branch.norm()
        head -= 1e-2 * g_head / g_head.norm()
    lowered = subject_loss().item()
    assert raised > loss.item() > lowered


def test_discriminator_maps_embeddings_to_one_logit():
    d = Discriminator(256)
    assert d(torch.randn(5, 256)).shape == (5,)
    assert Discriminator(10)(torch.randn(2, 10)).shape == (2,)
