"""The tail of the README's demo: a tiny CPU LOSO on the demo data, metrics printed, and
the run's report (report.md: fixed epoch, inner validation, the leaky oracle).

Two folds (a held-out subject from each of the first two micro databases, when there are
two), 64 px, two epochs of at most three steps per phase, the epoch also chosen on two
inner folds of each fold's training subjects (`--select inner-loso --inner-k 2`, which
trains each fold three times). Its numbers only show that the pipeline runs end to end,
not what the method can do.
"""

from __future__ import annotations

from pathlib import Path

import pandas as pd

from mepipe.atomic import write_parquet
from mepipe.contract.split_table import check_split, read_split
from mepipe_train.config import TrainConfig
from mepipe_train.loso import run_loso
from mepipe_train.run_report import write_report

DEMO = dict(
    epochs=2, eid_epochs=2, max_steps=3, batch_size=8, image_size=64, weights="none",
    workers=0, device="cpu", expr_dim=64, id_dim=64, select="inner-loso", inner_k=2,
    # a handful of steps at the paper's 1e-5 would not move the weights
    eid_lr_encoder=1e-3, eid_lr_classifier=1e-3, eid_lr_decoder=1e-4,
    mtm_lr_encoder=1e-4, mtm_lr_discriminator=1e-4, mtm_lr_classifier=1e-4,
)  # fmt: skip


def demo_folds(table: pd.DataFrame) -> str:
    """The first fold of each of the first two databases that have test clips."""
    tests = table[table["role"] == "test"].sort_values("fold")
    firsts = tests.groupby("database", sort=False)["fold"].min().sort_values()
    return ",".join(str(int(f)) for f in firsts.iloc[:2])


def demo_loso(
    data: str | Path,
    out: str | Path,
    split: str | Path | None = None,
    protocol: str = "cde",
    macro: str = "ckplus",
) -> dict:
    """Run the demo LOSO on `data` into `out` and write its report (out/report.md); returns
    the metrics (see `loso.evaluate`)."""
    out = Path(out)
    if split is None:
        from mepipe.split import loso_split

        split = out / "split.parquet"
        write_parquet(split, check_split(loso_split(data, protocol, macro=(macro,))))
    table = read_split(split)
    config = TrainConfig(
        data=str(data), out=str(out), split=str(split), protocol=protocol, macro=macro,
        folds=demo_folds(table), **DEMO,
    )  # fmt: skip
    run_loso(config)
    return write_report(out)[1]
