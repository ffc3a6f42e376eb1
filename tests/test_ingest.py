"""`mepipe ingest` end to end on the demo releases: manifests match the generator's truth."""

from __future__ import annotations

import json
from pathlib import Path

import pandas as pd
import pytest

from mepipe import __version__
from mepipe.demo.truth import DemoClip
from mepipe.records import clip_key

DATABASES = ("casme2", "smic", "samm", "ckplus", "oulu", "mmi")


def usable(clips: list[DemoClip]) -> list[DemoClip]:
    return [c for c in clips if c.label is not None and c.rejected is None]


@pytest.mark.parametrize("database", DATABASES)
def test_manifest_matches_ground_truth(database, demo_raw, demo_manifests):
    _, truth = demo_raw
    manifest = pd.read_parquet(demo_manifests / database / "manifest.parquet").set_index("key")
    expected = {clip_key(c.database, c.subject, c.clip): c for c in usable(truth[database])}
    ok = manifest[manifest.status != "rejected"]
    assert set(ok.index) == set(expected)
    for key, clip in expected.items():
        row = manifest.loc[key]
        assert (row["subject"], row["clip"], row["label"]) == (clip.subject, clip.clip, clip.label)
        assert (row.onset, row.offset) == (clip.onset, clip.offset)
        assert list(row.frame_numbers) == clip.frame_numbers
        if row.apex_source in ("annotated", "oao-marker", "last-frame"):
            assert row.apex == clip.apex
        if row.apex_source == "estimated:max-diff":  # a hole in the sheet's apex cell
            assert abs(row.apex - clip.apex) <= 1
        if clip.flagged:  # the demo sheets' holes: flagged, with what was wrong
            assert row.status == "flagged" and clip.flagged in row.reason
        assert row.neutral_frame == clip.onset
        assert len(row.expression_frames) == 5
        assert row.apex in list(row.expression_frames)
        assert list(row.expression_frames) == sorted(row.expression_frames)


@pytest.mark.parametrize("database", DATABASES)
def test_report_accounts_for_every_clip(database, demo_manifests):
    report = json.loads((demo_manifests / database / "ingest_report.json").read_text())
    manifest = pd.read_parquet(demo_manifests / database / "manifest.parquet")
    assert report["clips_found"] == len(manifest)
    assert report["clips_accepted"] + len(report["rejected"]) == len(manifest)
    assert {r["key"] for r in report["rejected"]} == set(
        manifest.key[manifest.status == "rejected"]
    )
    assert sum(report["labels"].values()) == report["clips_accepted"]
    provenance = report["provenance"]
    assert provenance["mepipe"] == __version__
    assert provenance["ingest"]["align_faces"] is False and provenance["shards"] is None
    # The release's own options (Adapter.Options), at their defaults: SAMM has none.
    expected = {"casme2": {"variant": "raw"}, "samm": {}, "ckplus": {}, "mmi": {}}
    expected["smic"] = {"variant": "raw", "subsets": ["HS", "VIS", "NIR"]}
    expected["oulu"] = {"variant": "raw", "modality": "VL", "lighting": "Strong"}
    assert provenance["ingest"]["adapter"] == expected[database]
    assert provenance["ingest"]["apex_method"] == "midpoint"


def test_every_scheme_has_a_label_or_a_reason(demo_manifests):
    manifest = pd.read_parquet(demo_manifests / "casme2" / "manifest.parquet")
    schemes = [c.removeprefix("label_") for c in manifest.columns if c.startswith("label_")]
    assert {"cde", "casme2_5class", "samm_5class", "smic_3class"} <= set(schemes)
    for scheme in schemes:
        labelled = manifest[f"label_{scheme}"].notna()
        explained = manifest[f"excluded_{scheme}"].notna()
        assert (labelled ^ explained).all(), scheme
    assert manifest.label_samm_5class.isna().all()


def test_ingest_writes_atomically_and_is_repeatable(demo_raw, tmp_path: Path):
    from mepipe.ingest import IngestOptions, ingest_database

    root, _ = demo_raw
    for out in ("a", "b"):
        ingest_database("casme2", root / "casme2", tmp_path / out, IngestOptions(align_faces=False))
    first = pd.read_parquet(tmp_path / "a" / "casme2" / "manifest.parquet")
    second = pd.read_parquet(tmp_path / "b" / "casme2" / "manifest.parquet")
    pd.testing.assert_frame_equal(first, second)
    assert not [p for p in (tmp_path / "a" / "casme2").iterdir() if p.name.endswith(".tmp")]


def ingest_variant(tmp_path: Path, database: str, name: str, **variant) -> pd.DataFrame:
    from mepipe.demo.micro import MICRO_WRITERS
    from mepipe.ingest import IngestOptions, ingest_database

    root = tmp_path / name / "raw"
    MICRO_WRITERS[database](root, subjects=2, clips_per_subject=3, **variant)
    ingest_database(database, root, tmp_path / name / "data", IngestOptions(align_faces=False))
    manifest = pd.read_parquet(tmp_path / name / "data" / database / "manifest.parquet")
    # Paths differ only by the folder each copy was written to.
    manifest["frame_paths"] = [
        [str(Path(p).relative_to(root)) for p in paths] for paths in manifest.frame_paths
    ]
    return manifest


def test_casme2_integer_and_text_subjects_give_identical_manifests(tmp_path: Path):
    as_int = ingest_variant(tmp_path, "casme2", "int", subject_cells="int")
    as_text = ingest_variant(tmp_path, "casme2", "text", subject_cells="text")
    pd.testing.assert_frame_equal(as_int, as_text)


def test_samm_preamble_and_single_header_sheets_give_identical_manifests(tmp_path: Path):
    preamble = ingest_variant(tmp_path, "samm", "preamble", sheet="preamble")
    single = ingest_variant(tmp_path, "samm", "single", sheet="single")
    # `extra` records which sheet and row each clip came from: provenance, which differs.
    extras = [json.loads(e) for e in preamble.extra], [json.loads(e) for e in single.extra]
    assert all(a["sheet"] != b["sheet"] for a, b in zip(*extras, strict=True))
    pd.testing.assert_frame_equal(preamble.drop(columns="extra"), single.drop(columns="extra"))
