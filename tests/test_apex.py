"""SMIC's unannotated apex: midpoint by default, or the frame that differs most from onset."""

from pathlib import Path

import pandas as pd
import pytest

from mepipe.adapters import open_release
from mepipe.apex import apply_apex_method, max_diff_apex
from mepipe.demo.micro import write_smic
from mepipe.ingest import IngestOptions, ingest_database


@pytest.fixture
def smic(tmp_path: Path):
    root = tmp_path / "SMIC"
    return root, write_smic(root, subjects=1, clips_per_subject=3, frames=(11, 15))


def test_max_diff_finds_the_peak_of_the_motion(tmp_path: Path):
    import cv2

    from mepipe.demo.face import Look, render_clip
    from mepipe.records import ApexSource, ClipRecord, FrameSource

    # The motion peaks at the 3rd of 11 frames, far from the midpoint (the 6th).
    frames = render_clip(Look.for_subject(0), "negative", 11, 2, 3.0, (320, 240))
    paths = []
    for number, frame in enumerate(frames, start=500):
        paths.append(str(tmp_path / f"image{number:06d}.bmp"))
        cv2.imwrite(paths[-1], cv2.cvtColor(frame, cv2.COLOR_RGB2BGR))
    numbers = tuple(range(500, 511))
    record = ClipRecord(
        "smic",
        "s1",
        "s1_ne_01",
        "negative",
        FrameSource(numbers, tuple(paths)),
        500,
        505,
        510,
        ApexSource.MIDPOINT,
        100.0,
    )
    assert max_diff_apex(record) == 502
    apply_apex_method(record, "max-diff")
    assert (record.apex, record.apex_source) == (502, ApexSource.MAX_DIFF)


def test_demo_smic_peaks_at_its_midpoint(smic):
    root, truth = smic
    records = {r.clip: r for r in open_release("smic", root).parse().records}
    for clip in truth:
        assert records[clip.clip].apex == clip.apex == max_diff_apex(records[clip.clip])


def test_apex_method_is_recorded_in_the_manifest(smic, tmp_path: Path):
    root, _ = smic
    ingest_database(
        "smic", root, tmp_path / "data", IngestOptions(align=False, smic_apex="max-diff")
    )
    manifest = pd.read_parquet(tmp_path / "data" / "smic" / "manifest.parquet")
    assert set(manifest.apex_source) == {"max-diff"}


def test_annotated_apex_is_never_overwritten(tmp_path: Path):
    from mepipe.demo.micro import write_casme2

    root = tmp_path / "CASME2"
    truth = write_casme2(root, subjects=1, clips_per_subject=2)
    for record in open_release("casme2", root).parse().records:
        before = record.apex
        apply_apex_method(record, "max-diff")
        assert record.apex == before and record.apex_source == "annotated"
    assert truth
