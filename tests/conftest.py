"""Shared fixtures: demo releases of all six databases (no licensed data anywhere)."""

from __future__ import annotations

import os
from pathlib import Path

import pytest

os.environ.setdefault("OMP_NUM_THREADS", "1")


@pytest.fixture(scope="session")
def demo_raw(tmp_path_factory) -> tuple[Path, dict]:
    """All six demo releases, written once per test session: (root, ground truth by database)."""
    from mepipe.demo.releases import write_demo_releases

    root = tmp_path_factory.mktemp("demo_raw")
    return root, write_demo_releases(root)


@pytest.fixture(scope="session")
def demo_manifests(demo_raw, tmp_path_factory) -> Path:
    """The demo releases ingested without alignment (manifests only): the data folder."""
    from mepipe.ingest import IngestOptions, ingest_database

    root, _ = demo_raw
    data = tmp_path_factory.mktemp("demo_manifests")
    for database in ("casme2", "smic", "samm", "ckplus", "oulu", "mmi"):
        ingest_database(database, root / database, data, IngestOptions(align_faces=False))
    return data


# The smallest settings that still run every phase of `mepipe-train final` (MacroNet,
# MicroNet with L_EID, MTMNet with all losses): one step of one epoch each, 32 px.
TINY_FINAL = dict(
    epochs=1, eid_epochs=1, max_steps=1, batch_size=4, image_size=32, weights="none",
    workers=0, device="cpu", expr_dim=16, id_dim=16,
)  # fmt: skip


@pytest.fixture(scope="session")
def tiny_model(tmp_path_factory) -> Path:
    """A model folder of `mepipe-train final` trained on rendered demo-face data (tiny)."""
    from mepipe_train.config import TrainConfig
    from mepipe_train.final import train_final
    from mepipe_train.synthetic import SyntheticSpec, build

    data = tmp_path_factory.mktemp("final_data")
    split = build(data, SyntheticSpec(size=32))
    out = tmp_path_factory.mktemp("final_model") / "model"
    return train_final(TrainConfig(data=str(data), out=str(out), split=str(split), **TINY_FINAL))


@pytest.fixture(scope="session")
def demo_video(tmp_path_factory) -> Path:
    """The demo video of mepipe.demo.video (DEMO_EVENTS) as an mp4."""
    from mepipe.demo.video import demo_video_frames, write_video

    return write_video(tmp_path_factory.mktemp("demo_video") / "demo.mp4", demo_video_frames())
