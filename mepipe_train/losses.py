"""The losses of EIDNet (Eq. 1-5) and MTMNet (Eq. 6-12), each averaged over the batch.

Decisions the paper leaves open (docs/training.md):
- L_rec is by default the per-sample L2 norm divided by sqrt(pixel values), i.e. an RMS
  error, so that λ11 = 0.1 means the same at 32 px and at 224 px (a raw norm grows with the
  image); `--rec-loss l2` gives Eq. 2's plain norm (sqrt(3*224*224) ≈ 388 times larger).
- The triplet loss runs on L2-normalised embeddings, so the margin m = 1.0 has a scale.
- In L_LIR the macro loss L_cls' is a fixed bound (detached): LIR must pull L_cls down
  to L_cls', never push the classifier to do worse on macro samples.
"""

from __future__ import annotations

import math

import torch
import torch.nn.functional as F


def similarity_loss(id_e: torch.Tensor, id_n: torch.Tensor) -> torch.Tensor:
    """L_sim = ||f_E^s - f_N^s||_2 (Eq. 1): one person, one identity embedding."""
    return torch.linalg.vector_norm(id_e - id_n, dim=1).mean()


def reconstruction_loss(
    target: torch.Tensor, recon: torch.Tensor, rms: bool = True
) -> torch.Tensor:
    """L_rec = ||x_E - D_r([f_E^e, f_N^s])||_2 (Eq. 2), divided by sqrt(C*H*W) when `rms`
    (size-independent, the default) or the plain norm of Eq. 2 (`--rec-loss l2`)."""
    diff = (target - recon).flatten(1)
    scale = math.sqrt(diff.shape[1]) if rms else 1.0
    return (torch.linalg.vector_norm(diff, dim=1) / scale).mean()


def identity_loss(subject_logits: torch.Tensor, subjects: torch.Tensor) -> torch.Tensor:
    """L_s: subject cross-entropy of D_s (Eq. 3); the sign of the game comes from the GRL."""
    return F.cross_entropy(subject_logits, subjects)


def triplet_loss(
    anchor: torch.Tensor, positive: torch.Tensor, negative: torch.Tensor, margin: float
) -> torch.Tensor:
    """L_tri = max(||a - p|| - ||a - n|| + m, 0) on L2-normalised embeddings (Eq. 6)."""
    a, p, n = (F.normalize(t, dim=1) for t in (anchor, positive, negative))
    return F.triplet_margin_loss(a, p, n, margin=margin, p=2, eps=0.0)


def discriminator_loss(real_logits: torch.Tensor, fake_logits: torch.Tensor) -> torch.Tensor:
    """L_D = -log D(f_pos) - log(1 - D(f_anc)) (Eq. 8); macro is real, micro is fake."""
    real = F.binary_cross_entropy_with_logits(real_logits, torch.ones_like(real_logits))
    fake = F.binary_cross_entropy_with_logits(fake_logits, torch.zeros_like(fake_logits))
    return real + fake


def generator_loss(fake_logits: torch.Tensor) -> torch.Tensor:
    """L_adv = -log D(f_anc) (Eq. 9), the non-saturating form for MicroNet."""
    return F.binary_cross_entropy_with_logits(fake_logits, torch.ones_like(fake_logits))


def lir_loss(micro_ce: torch.Tensor, macro_ce: torch.Tensor) -> torch.Tensor:
    """L_LIR = max(L_cls - L_cls', 0) per triplet (Eq. 11); L_cls' is a fixed bound."""
    return torch.clamp(micro_ce - macro_ce.detach(), min=0).mean()
