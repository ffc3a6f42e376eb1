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
