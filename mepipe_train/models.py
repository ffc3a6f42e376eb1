"""The networks of EIDNet and MTMNet (Xia et al. 2020, Sec. 3 and Fig. 2).

EIDNet = Encoder (ResNet trunk + expression and identity branches), Decoder D_r,
expression classifier D_e and identity classifier D_s behind a gradient-reversal layer.
MTMNet adds a Discriminator D on expression embeddings (macro = real, micro = fake).
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

import torch
from torch import nn
from torchvision import models

from mepipe.errors import MepipeError, one_line
from mepipe_train.checkpoint import load_weights

# The inputs are normalised with ImageNet statistics: that is what the torchvision trunks
# were trained on, and harmless for a trunk trained from scratch.
IMAGENET_MEAN = (0.485, 0.456, 0.406)
IMAGENET_STD = (0.229, 0.224, 0.225)


def build_trunk(backbone: str, weights: str) -> tuple[nn.Module, int]:
    """A torchvision ResNet without its classification layer, and its feature size.

    `weights`: `imagenet` (torchvision's weights, from its cache or download), a local
    state-dict file, or `none`.
    """
    factory = {"resnet18": models.resnet18, "resnet34": models.resnet34}[backbone]
    if weights == "imagenet":
        try:
            net = factory(weights="DEFAULT")
        except Exception as exc:  # download or cache failure: say what to do instead
            raise MepipeError(
                f"cannot load torchvision's ImageNet weights for {backbone} ({exc}); "
                "put them in the torch hub cache, pass --weights PATH, or --weights none"
            ) from None
    else:
        net = factory(weights=None)
        if weights not in ("none", ""):
            path = Path(weights)
            state = load_weights(path, "cpu", f"--weights needs a {backbone} state dict")
            try:
                missing, _ = net.load_state_dict(state, strict=False)
            except (RuntimeError, TypeError, AttributeError) as exc:
                raise MepipeError(f"not {backbone} weights ({one_line(exc)})", path) from None
            if any(not k.startswith("fc.") for k in missing):
                raise MepipeError(f"not {backbone} weights (missing {missing[:3]})", path)
    features = net.fc.in_features
    net.fc = nn.Identity()
    return net, features


class Encoder(nn.Module):
    """E: image -> (expression embedding f^e, identity embedding f^s)."""

    def __init__(self, backbone: str, weights: str, expr_dim: int, id_dim: int):
        super().__init__()
        self.trunk, features = build_trunk(backbone, weights)
        # LayerNorm rather than BatchNorm: a branch must work on a batch of one.
        self.expression = nn.Sequential(nn.Linear(features, expr_dim), nn.LayerNorm(expr_dim))
        self.identity = nn.Sequential(nn.Linear(features, id_dim), nn.LayerNorm(id_dim))

    def forward(self, x: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        h = self.trunk(x)
        return self.expression(h), self.identity(h)


class Decoder(nn.Module):
    """D_r: [f_E^e, f_N^s] -> image in [0, 1]; each block doubles the map (upsample, conv, BN, ReLU)."""

    def __init__(self, in_dim: int, image_size: int, base: int = 256):
        super().__init__()
        self.start = image_size // 32
        self.base = base
        self.project = nn.Linear(in_dim, base * self.start * self.start)
        blocks: list[nn.Module] = []
        channels = base
        for _ in range(5):  # 2**5 = 32: start * 32 = image_size
            out = max(channels // 2, 16)
            blocks += [
                nn.Upsample(scale_factor=2, mode="nearest"),
                nn.Conv2d(channels, out, 3, padding=1, bias=False),
                nn.BatchNorm2d(out),
                nn.ReLU(inplace=True),
            ]
            channels = out
        blocks += [nn.Conv2d(channels, 3, 3, padding=1), nn.Sigmoid()]
        self.blocks = nn.Sequential(*blocks)

    def forward(self, z: torch.Tensor) -> torch.Tensor:
        h = self.project(z).view(-1, self.base, self.start, self.start)
        return self.blocks(h)


class _ReverseGradient(torch.autograd.Function):
    @staticmethod
    def forward(ctx, x: torch.Tensor, scale: float) -> torch.Tensor:  # type: ignore[override]
        ctx.scale = scale
        return x.view_as(x)

    @staticmethod
    def backward(ctx, grad: torch.Tensor) -> tuple[torch.Tensor, None]:  # type: ignore[override]
        return -ctx.scale * grad, None


class GradientReversal(nn.Module):
    """Identity forward, gradient times -scale backward (Ganin & Lempitsky 2015).

    Put in front of D_s, one backward pass trains D_s to *minimise* L_s while the encoder
    receives -λ13 dL_s: it *maximises* L_s, the min-max game of Eq. (3)/(5).
    """

    def __init__(self, scale: float):
        super().__init__()
        self.scale = scale

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return _ReverseGradient.apply(x, self.scale)


class Discriminator(nn.Module):
    """D: expression embedding -> logit of 'macro' (real). 1-D convolutions, then a linear layer.

    The paper: "several convolutional layers ending with a linear layer that outputs a
    scalar"; on a vector the convolutions run along the embedding.
    """

    def __init__(self, dim: int):
        super().__init__()
        self.convs = nn.Sequential(
            nn.Conv1d(1, 16, 5, stride=2, padding=2),
            nn.LeakyReLU(0.2),
            nn.Conv1d(16, 32, 5, stride=2, padding=2),
            nn.LeakyReLU(0.2),
        )
        length = (dim + 1) // 2
        length = (length + 1) // 2
        self.linear = nn.Linear(32 * length, 1)

    def forward(self, f: torch.Tensor) -> torch.Tensor:
        return self.linear(self.convs(f.unsqueeze(1)).flatten(1)).squeeze(1)


@dataclass
class EIDOutputs:
    """Everything one EIDNet pass produces for a (neutral, expression) pair batch."""

    expr_e: torch.Tensor  # f_E^e
    id_e: torch.Tensor  # f_E^s
    id_n: torch.Tensor  # f_N^s
    logits: torch.Tensor  # D_e(f_E^e)
    subject_logits: torch.Tensor  # D_s(GRL(f_E^e))
    recon: torch.Tensor  # D_r([f_E^e, f_N^s])


class EIDNet(nn.Module):
    """MicroNet or MacroNet: encoder, decoder, expression and identity classifiers.

    `n_subjects` is the number of training subjects (D_s's classes); 0 builds no D_s
    (a network that is only used, not pretrained with L_EID).
    """

    def __init__(
        self,
        n_classes: int,
        n_subjects: int,
        backbone: str = "resnet18",
        weights: str = "none",
        expr_dim: int = 256,
        id_dim: int = 256,
        image_size: int = 224,
        lambda_id: float = 0.1,
    ):
        super().__init__()
        self.encoder = Encoder(backbone, weights, expr_dim, id_dim)
        self.classifier = nn.Linear(expr_dim, n_classes)
        self.decoder = Decoder(expr_dim + id_dim, image_size)
        self.reverse = GradientReversal(lambda_id)
        self.subject_classifier = (
            nn.Sequential(nn.Linear(expr_dim, 256), nn.ReLU(), nn.Linear(256, n_subjects))
            if n_subjects
            else None
        )

    def forward(self, x_n: torch.Tensor, x_e: torch.Tensor) -> EIDOutputs:
        """One pass over a pair batch; neutral and expression images share one trunk call."""
        expr, ident = self.encoder(torch.cat([x_n, x_e]))
        n = x_n.shape[0]
        expr_e, id_n, id_e = expr[n:], ident[:n], ident[n:]
        if self.subject_classifier is None:
            raise RuntimeError("this EIDNet was built without an identity classifier")
        return EIDOutputs(
            expr_e=expr_e,
            id_e=id_e,
            id_n=id_n,
            logits=self.classifier(expr_e),
            subject_logits=self.subject_classifier(self.reverse(expr_e)),
            recon=self.decoder(torch.cat([expr_e, id_n], dim=1)),
        )

    def classify(self, x: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        """(f^e, expression logits) of a batch of expression images: MTMNet and test time."""
        expr, _ = self.encoder(x)
        return expr, self.classifier(expr)

    def reconstruct(self, x_n: torch.Tensor, x_e: torch.Tensor) -> torch.Tensor:
        expr, _ = self.encoder(x_e)
        _, id_n = self.encoder(x_n)
        return self.decoder(torch.cat([expr, id_n], dim=1))


class MicroClassifier(nn.Module):
    """The part of MicroNet that MTMNet fine-tunes, as one module so DDP sees one forward."""

    def __init__(self, net: EIDNet):
        super().__init__()
        self.encoder = net.encoder
        self.classifier = net.classifier

    def forward(self, x: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        expr, _ = self.encoder(x)
        return expr, self.classifier(expr)
