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
from matplotlib.ticker import MaxNLocator  # noqa: E402

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


def learning_curves_png(
    losses: dict[str, dict[str, list[float]]],
    heldout_uf1: Sequence[float],
    inner_uf1: Sequence[float],
    path: Path,
) -> None:
    """Training losses per term and epoch (one panel per phase kind), then the held-out UF1
    per epoch pooled over folds, drawn as a diagnostic (never used to train or choose)."""
    panels = max(len(losses) + (1 if len(heldout_uf1) else 0), 1)
    columns = min(panels, 3)
    rows = -(-panels // columns)
    figure, axes = plt.subplots(rows, columns, figsize=(4.6 * columns, 3.6 * rows), squeeze=False)
    axes = axes.ravel()
    for ax in axes[panels:]:
        ax.set_axis_off()
    for ax in axes[:panels]:
        ax.xaxis.set_major_locator(MaxNLocator(integer=True))  # epochs are whole numbers
    for ax, (phase, terms) in zip(axes, losses.items(), strict=False):
        for term, values in terms.items():
            ax.plot(range(1, len(values) + 1), values, marker="o", label=term)
        what = "" if "gradient" in phase else ": training losses"
        ax.set_title(f"{phase}{what} (mean per epoch)", fontsize=9)
        ax.set_xlabel("epoch")
        ax.set_yscale("log")
        ax.legend(fontsize=7)
    if len(heldout_uf1):
        ax = axes[len(losses)]
        epochs = range(1, len(heldout_uf1) + 1)
        ax.plot(epochs, heldout_uf1, marker="o", color="tab:red", label="held-out (pooled)")
        if len(inner_uf1):
            ax.plot(
                range(1, len(inner_uf1) + 1),
                inner_uf1,
                marker="s",
                color="tab:blue",
                label="inner validation",
            )
        ax.set_title("DIAGNOSTIC: UF1 per epoch\n(held-out never used for training or choice)",
                     fontsize=9)  # fmt: skip
        ax.set_xlabel("epoch")
        ax.set_ylim(0, 1)
        ax.legend(fontsize=7)
    figure.tight_layout()
    _save(figure, path)


def results_png(rows: Sequence[tuple[str, str, float]], path: Path) -> None:
    """Grouped bars of UF1 per result and part; the oracle is hatched and marked leaky."""
    parts = list(dict.fromkeys(part for part, _, _ in rows))
    kinds = list(dict.fromkeys(kind for _, kind, _ in rows))
    value = {(p, k): v for p, k, v in rows}
    figure, axes = plt.subplots(figsize=(1.6 * len(parts) * len(kinds) / 2 + 3, 3.4))
    width = 0.8 / len(kinds)
    for n, kind in enumerate(kinds):
        xs = [i + n * width for i in range(len(parts))]
        ys = [value.get((p, kind), np.nan) for p in parts]
        leaky = kind.startswith("oracle")
        axes.bar(xs, ys, width, label=kind, hatch="//" if leaky else None,
                 alpha=0.55 if leaky else 1.0)  # fmt: skip
    axes.set_xticks([i + 0.4 - width / 2 for i in range(len(parts))], parts)
    axes.set_ylim(0, 1)
    axes.set_ylabel("UF1")
    axes.set_title("UF1 by result (oracle: leaky, optimistic)")
    axes.legend(fontsize=7)
    _save(figure, path)
