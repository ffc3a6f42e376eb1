"""Per-term gradient norms on the encoder: how hard each weighted loss term pushes it.

At λ2x = 1e-3 the guidance terms of L_MTM (triplet, adversarial, LIR) may be too small to
move the encoder next to L_cls; the step log shows it (`--grad-norms N`, docs/training.md).
Each term costs one extra backward pass through the encoder, so it is measured every N
steps only.
"""

from __future__ import annotations

from collections.abc import Iterable

import torch


def encoder_grad_norms(
    terms: dict[str, torch.Tensor], params: Iterable[torch.nn.Parameter]
) -> dict[str, float]:
    """{'grad_<term>': ||d term / d encoder||_2} of each weighted term, without touching any
    .grad (torch.autograd.grad, graph kept for the step's own backward pass)."""
    params = [p for p in params if p.requires_grad]
    norms = {}
    for name, term in terms.items():
        if not term.requires_grad:
            norms[f"grad_{name}"] = 0.0
            continue
        grads = torch.autograd.grad(term, params, retain_graph=True, allow_unused=True)
        squares = [g.float().pow(2).sum() for g in grads if g is not None]
        norms[f"grad_{name}"] = float(torch.stack(squares).sum().sqrt()) if squares else 0.0
    return norms
