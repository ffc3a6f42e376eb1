"""The tail of the README's demo: a tiny CPU LOSO on the demo data, metrics printed, then
a final model on all subjects and `predict` on a demo video.

Two folds (a held-out subject from each of the first two micro databases, when there are
two), 64 px, two epochs of at most three steps per phase: about a minute on two cores.
The final model has the same settings; the demo video (mepipe.demo.video) is the demo face
with a micro and a macro expression at known frames. Its numbers only show that the
pipeline runs end to end, not what the method can do.
"""

from __future__ import annotations

from pathlib import Path

import pandas as pd

from mepipe.atomic import link_or_copy, write_parquet
from mepipe.contract.split_table import check_split, read_split
from mepipe_train.config import TrainConfig
from mepipe_train.loso import run_loso

DEMO = dict(
    epochs=2, eid_epochs=2, max_steps=3, batch_size=8, image_size=64, weights="none",
    workers=0, device="cpu", expr_dim=64, id_dim=64,
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
    """Run the demo LOSO on `data` into `out`; returns the metrics (see `loso.evaluate`)."""
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
    return run_loso(config)


def demo_final_predict(
    data: str | Path,
    out: str | Path,
    split: str | Path,
    protocol: str = "cde",
    macro: str = "ckplus",
    macronet: Path | None = None,
) -> Path:
    """`mepipe-train final` with the demo settings into OUT/model, then `mepipe predict` of a
    demo video (OUT/demo-video.mp4) with that model into OUT/predict; returns OUT/predict.

    `macronet`: the demo LOSO's RUN/macronet.pt. The final model's MacroNet is the same
    network (same macro clips, options and seed), so it is linked in and loaded, not
    trained again: the demo stays short.
    """
    from mepipe.contract.model import read_model_card
    from mepipe.demo.video import demo_video_frames, write_video
    from mepipe.predict.outputs import write_outputs
    from mepipe.predict.pipeline import predict_video
    from mepipe.spot import SpotOptions
    from mepipe_train.final import TRAIN_DIR, load_classifier, train_final

    out = Path(out)
    shared = out / "model" / TRAIN_DIR / "macronet.pt"
    if macronet is not None and macronet.exists() and not shared.exists():
        shared.parent.mkdir(parents=True, exist_ok=True)
        link_or_copy(macronet, shared)
    model = train_final(
        TrainConfig(
            data=str(data),
            out=str(out / "model"),
            split=str(split),
            protocol=protocol,
            macro=macro,
            **DEMO,
        )  # fmt: skip
    )
    video = write_video(out / "demo-video.mp4", demo_video_frames())
    card = read_model_card(model)
    result = predict_video(video, SpotOptions(), load_classifier(model, card), card)
    return write_outputs(result, out / "predict")
