"""Pictures of a run: the pooled confusion matrix and the paper's Figure 3 (originals next to
EIDNet reconstructions). Drawn with matplotlib's Agg backend, written atomically."""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path

import matplotlib

matplotlib.use("Agg")
import matplotlib.pyplot as plt  # noqa: E402
import numpy as np  # noqa: E402
import torch  # noqa: E402

from mepipe.atomic import atomic_path  # noqa: E402


def _save(figure, path: Path) -> None:
    with atomic_path(path) as tmp:
        figure.savefig(tmp, format="png", dpi=120, bbox_inches="tight")
    plt.close(figure)


def confusion_png(matrix: np.ndarray, classes: Sequence[str], title: str, path: Path) -> None:
    """Counts with row-normalised colour (recall per true class), classes on both axes."""
    rows = matrix.sum(axis=1, keepdims=True)
    share = np.divide(matrix, rows, out=np.zeros_like(matrix, dtype=float), where=rows > 0)
    figure, axes = plt.subplots(figsize=(1.2 * len(classes) + 2, 1.1 * len(classes) + 1.5))
    axes.imshow(share, cmap="Blues", vmin=0, vmax=1)
    for i in range(len(classes)):
        for j in range(len(classes)):
            colour = "white" if share[i, j] > 0.6 else "black"
            axes.text(
                j, i, f"{matrix[i, j]}\n{share[i, j]:.0%}", ha="center", va="center", color=colour
            )
    axes.set_xticks(range(len(classes)), classes, rotation=30, ha="right")
    axes.set_yticks(range(len(classes)), classes)
    axes.set_xlabel("predicted")
    axes.set_ylabel("true")
    axes.set_title(title)
    _save(figure, path)


def reconstruction_png(
    originals: torch.Tensor, reconstructions: torch.Tensor, keys: Sequence[str], path: Path
) -> None:
    """Pairs of columns, original | reconstruction, one clip per row (as Figure 3)."""
    n = originals.shape[0]
    figure, axes = plt.subplots(n, 2, figsize=(4, 2.3 * n + 0.3), squeeze=False)
    for row in range(n):
        for col, (image, name) in enumerate(
            ((originals[row], "original"), (reconstructions[row], "reconstructed"))
        ):
            axes[row, col].imshow(image.detach().float().clamp(0, 1).permute(1, 2, 0).cpu().numpy())
            axes[row, col].set_axis_off()
            title = f"{keys[row]}\n{name}" if col == 0 else f"\n{name}"
            axes[row, col].set_title(title, fontsize=7)
    figure.subplots_adjust(hspace=0.45)  # room for the two-line titles
    _save(figure, path)
