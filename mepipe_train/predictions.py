"""The one builder of a prediction table (`fold-NNN/predictions.parquet`, the per-epoch
held-out and inner-validation files): every model (MTMNet, STSTNet, OFF-ApexNet) writes
the same columns, so evaluation, the report and the oracle read them alike.

Columns: key, fold, database, subject, true_label, true_index, pred_label, pred_index,
prob_<class> for every class of the protocol.
"""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np
import pandas as pd

from mepipe.errors import MepipeError
from mepipe_train.data import Item


def prediction_table(
    items: Sequence[Item], probs: np.ndarray, fold: int, classes: Sequence[str], hint: str
) -> pd.DataFrame:
    """One row per item (in order) from its class probabilities `probs` (items x classes).
    Non-finite probabilities (diverged weights) raise, naming the clip and `hint` (what to
    lower), rather than reading as class 0."""
    probs = np.asarray(probs, dtype=np.float64).reshape(len(items), len(classes))
    bad = ~np.isfinite(probs).all(1)
    if bad.any():
        key = items[int(np.argmax(bad))].key
        raise MepipeError(
            f"fold {fold}: the trained network gives non-finite class probabilities "
            f"(clip {key}); {hint}"
        )
    rows = []
    for item, p in zip(items, probs, strict=True):
        pred = int(np.argmax(p))
        rows.append(
            {
                "key": item.key,
                "fold": fold,
                "database": item.database,
                "subject": item.subject,
                "true_label": classes[item.label],
                "true_index": item.label,
                "pred_label": classes[pred],
                "pred_index": pred,
                **{f"prob_{c}": float(p[i]) for i, c in enumerate(classes)},
            }
        )
    return pd.DataFrame(rows)
