"""The flow-based reference networks, STSTNet and OFF-ApexNet, and their training settings.

Both read onset->apex optical flow (and STSTNet also optical strain) at 28x28, as their
papers do, and classify it. They are built from the papers' descriptions; what a paper
leaves open, and what was chosen, is said in each class (docs/reference_models.md).

- STSTNet: Liong, Gan, See, Khor, Huang, "Shallow Triple Stream Three-dimensional CNN
  (STSTNet) for Micro-expression Recognition", FG 2019 (arXiv:1902.03634).
- OFF-ApexNet: Gan, Liong, Yau, Huang, Tan, "OFF-ApexNet on micro-expression recognition
  system", Signal Processing: Image Communication 74 (2019) (arXiv:1805.08699).

The input of a clip is built by `flow_input` from the shard's flow members (docs/shards.md):
the (2, S, S) field [u, v] in pixels at the crop size S and the (S, S) strain.
"""

from __future__ import annotations

from dataclasses import dataclass

import cv2
import numpy as np
import torch
from torch import nn

INPUT_SIZE = 28  # both papers resize the flow images to 28x28


@dataclass(frozen=True)
class FlowSettings:
    """How a flow model trains when --flow-epochs/--flow-lr/--flow-batch-size are 0."""

    channels: tuple[str, ...]  # input planes, in order: u, v, strain
    epochs: int
    lr: float
    batch_size: int
    source: str  # where the numbers come from (docs/reference_models.md)


# Optimiser: Adam for both (STSTNet's released script; the OFF-ApexNet paper's training
# setup could not be re-read when this was written, see docs/reference_models.md).
SETTINGS = {
    "ststnet": FlowSettings(
        ("u", "v", "strain"), 800, 5e-5, 256,
        "the authors' released PyTorch script (Adam, lr 5e-5, batch 256, 800 epochs)",
    ),
    "offapexnet": FlowSettings(
        ("u", "v"), 800, 1e-4, 256,
        "not re-verified against the paper: Adam, lr 1e-4, batch and epochs as STSTNet's",
    ),
}  # fmt: skip


class STSTNet(nn.Module):
    """Shallow Triple Stream Three-dimensional CNN (Liong et al. 2019).

    What the paper says: the input is the 28x28x3 stack of optical strain, horizontal and
    vertical flow of the onset->apex pair ("three-dimensional" = three input planes); three
    parallel convolutional streams with 3, 5 and 8 filters of 3x3, each followed by ReLU,
    batch normalisation and 3x3 max pooling with stride 3; the 16 maps are concatenated,
    average-pooled 2x2 and classified by one fully connected layer.

    Choices where the paper is silent: every stream sees the whole three-plane stack (as in
    the paper's layer table and the authors' code), "same" padding and a padded max pool so
    28 -> 10 -> 5 (5x5x16 = 400 features), dropout 0.5 after each stream's pooling (the
    authors' released script has it).
    """

    def __init__(self, n_classes: int, in_channels: int = 3, dropout: float = 0.5):
        super().__init__()
        self.streams = nn.ModuleList(
            nn.Sequential(
                nn.Conv2d(in_channels, width, kernel_size=3, padding=1),
                nn.ReLU(),
                nn.BatchNorm2d(width),
                nn.MaxPool2d(kernel_size=3, stride=3, padding=1),
                nn.Dropout(dropout),
            )
            for width in (3, 5, 8)
        )
        self.pool = nn.AvgPool2d(kernel_size=2, stride=2)
        self.classifier = nn.Linear(16 * 5 * 5, n_classes)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        maps = torch.cat([stream(x) for stream in self.streams], dim=1)
        return self.classifier(self.pool(maps).flatten(1))


class OFFApexNet(nn.Module):
    """Optical Flow Features from Apex frame Network (Gan et al. 2019).

    What the paper says: two streams, one on the horizontal and one on the vertical
    optical flow (onset->apex) at 28x28; each is conv 5x5 (6 filters) -> max pool ->
    conv 5x5 (16 filters) -> max pool; the two are flattened and concatenated, then two
    fully connected layers of 1024 units and a softmax over the classes, with dropout.

    Choices: "same" padding and 2x2 max pooling with stride 2 (28 -> 14 -> 7, 7x7x16 = 784
    features a stream), ReLU after each convolution and each hidden layer, dropout 0.5
    before each fully connected layer after the first.
    """

    def __init__(self, n_classes: int, dropout: float = 0.5):
        super().__init__()
        self.streams = nn.ModuleList(
            nn.Sequential(
                nn.Conv2d(1, 6, kernel_size=5, padding=2),
                nn.ReLU(),
                nn.MaxPool2d(2, 2),
                nn.Conv2d(6, 16, kernel_size=5, padding=2),
                nn.ReLU(),
                nn.MaxPool2d(2, 2),
                nn.Flatten(),
            )
            for _ in range(2)
        )
        self.classifier = nn.Sequential(
            nn.Linear(2 * 16 * 7 * 7, 1024),
            nn.ReLU(),
            nn.Dropout(dropout),
            nn.Linear(1024, 1024),
            nn.ReLU(),
            nn.Dropout(dropout),
            nn.Linear(1024, n_classes),
        )

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        features = [stream(x[:, i : i + 1]) for i, stream in enumerate(self.streams)]
        return self.classifier(torch.cat(features, dim=1))


def new_flow_net(model: str, n_classes: int) -> nn.Module:
    """The untrained network of `--model` (ststnet or offapexnet)."""
    if model == "ststnet":
        return STSTNet(n_classes)
    if model == "offapexnet":
        return OFFApexNet(n_classes)
    raise ValueError(f"not a flow model: {model}")


def resize_flow(flow: np.ndarray, size: int = INPUT_SIZE) -> np.ndarray:
    """A (2, S, S) [u, v] field in pixels at S -> (2, size, size) in pixels at `size`.

    Area interpolation averages the displacement over each output cell; the values are then
    multiplied by size / S, because a displacement of d pixels at S is d * size / S pixels
    at `size`.
    """
    s = flow.shape[-1]
    planes = [
        cv2.resize(np.asarray(p, np.float32), (size, size), interpolation=cv2.INTER_AREA)
        for p in flow
    ]
    return np.stack(planes) * np.float32(size / s)


def resize_plane(plane: np.ndarray, size: int = INPUT_SIZE) -> np.ndarray:
    """An (S, S) plane (e.g. strain, which has no unit and needs no rescaling) at `size`."""
    return cv2.resize(np.asarray(plane, np.float32), (size, size), interpolation=cv2.INTER_AREA)


def _unit_scale(x: np.ndarray) -> np.ndarray:
    peak = float(np.abs(x).max())
    return x / peak if peak > 1e-12 else x


def flow_input(
    flow: np.ndarray, strain: np.ndarray | None, channels: tuple[str, ...]
) -> np.ndarray:
    """A clip's network input (len(channels), 28, 28), float32.

    The flow is resized to 28x28 (`resize_flow`), then scaled per clip into [-1, 1]: u and
    v together by the largest |u| or |v| (direction and the u/v ratio are kept), the strain
    by its own largest magnitude. Both papers feed per-clip normalised flow images; the
    scale matters because micro-expression flow is a fraction of a pixel at 28 px.
    """
    uv = _unit_scale(resize_flow(flow))
    planes = {"u": uv[0], "v": uv[1]}
    if "strain" in channels:
        if strain is None:
            raise ValueError("strain is needed for this model")
        planes["strain"] = _unit_scale(resize_plane(strain))
    return np.stack([planes[c] for c in channels]).astype(np.float32)
