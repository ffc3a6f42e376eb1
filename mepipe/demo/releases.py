"""Miniature raw releases of the six databases (`mepipe demo-data`, `mepipe demo`).

The demo releases are laid out exactly like the six real ones, annotation files included,
with frames of a real public-domain face animated by landmark-driven warps, so every command
can be tried, and every test run, without the licensed data.
"""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path
from typing import Any

from mepipe.atomic import write_json
from mepipe.demo.truth import DemoClip

# Subjects and clips per subject of each demo release: small enough to ingest in a minute,
# large enough for every CDE class and a two-fold LOSO.
DEMO_SIZES: dict[str, dict[str, int]] = {
    "casme2": {"subjects": 3, "clips_per_subject": 4},
    "smic": {"subjects": 3, "clips_per_subject": 4},
    "samm": {"subjects": 3, "clips_per_subject": 4},
    "ckplus": {"subjects": 3, "sequences_per_subject": 4},
    "oulu": {"subjects": 2},
    "mmi": {"subjects": 2, "sessions_per_subject": 3},
}

# The demo's sheets have the holes real copies have (an empty or '/' apex, -1, apex on the
# onset or outside onset..offset, mistyped offsets; docs/releases.md), so the demo shows
# those clips flagged with an estimated apex or a clamped offset, not lost.
DEMO_VARIANTS: dict[str, dict[str, Any]] = {
    "casme2": {"sheet": "updated", "holes": True},
    "samm": {"holes": True},
}


def writers() -> dict[str, Callable[..., list[DemoClip]]]:
    from mepipe.demo.macro import MACRO_WRITERS
    from mepipe.demo.micro import MICRO_WRITERS

    return {**MICRO_WRITERS, **MACRO_WRITERS}


def write_demo_releases(
    out: Path, databases: tuple[str, ...] | None = None, seed: int = 0
) -> dict[str, list[DemoClip]]:
    """Write `<out>/<db>/` raw releases and `<out>/ground_truth.json`; return the truth."""
    truth: dict[str, list[DemoClip]] = {}
    available = writers()
    for database in databases or tuple(DEMO_SIZES):
        options = {**DEMO_SIZES[database], **DEMO_VARIANTS.get(database, {})}
        truth[database] = available[database](out / database, seed=seed, **options)
    write_json(
        out / "ground_truth.json", {db: [c.to_json() for c in clips] for db, clips in truth.items()}
    )
    return truth
