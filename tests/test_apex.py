"""The apex where the release has none (SMIC: midpoint or max-diff) and where its annotation
has holes (CASME II, SAMM, MMI: estimated by max-diff, flagged, never rejected)."""

from pathlib import Path

import pandas as pd
import pytest
from PIL import Image

from mepipe.adapters import open_release
from mepipe.apex import apply_apex_method, check_annotation, estimate_apex, max_diff_apex
from mepipe.demo.micro import CASME2_QUIRK_CLIPS, SHEET_HOLES, write_casme2, write_samm, write_smic
from mepipe.ingest import IngestOptions, ingest_database
from mepipe.protocols import load_scheme
from mepipe.records import ApexSource


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
        "smic", root, tmp_path / "data", IngestOptions(align_faces=False, apex_method="max-diff")
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


FRAMES = tuple(range(100, 111))  # a clip folder holding frames 100..110


@pytest.mark.parametrize(
    ("apex", "offset", "expected_apex", "expected_offset", "says"),
    [
        (105, 110, 105, 110, None),  # a sound annotation is kept
        (None, 110, None, 110, "no apex annotated"),
        (-1, 110, None, 110, "apex frame -1 is outside onset..offset (100..110)"),
        (100, 110, None, 110, "apex frame 100 is the onset frame"),
        (117, 110, None, 110, "apex frame 117 is outside onset..offset (100..110)"),
        (99, 110, None, 110, "apex frame 99 is outside onset..offset (100..110)"),
        # Mistyped offsets: clamped to the last frame on disk.
        (105, 1100, 105, 110, "offset frame 1100 is past the frames on disk"),
        (105, 103, 105, 110, "offset frame 103 is before the apex frame 105"),
        (105, 11, 105, 110, "offset frame 11 is before the onset frame 100"),
        # The apex is past the frames: the apex is wrong, not the offset.
        (130, 108, None, 108, "apex frame 130 is outside onset..offset (100..108)"),
    ],
)
def test_check_annotation(apex, offset, expected_apex, expected_offset, says):
    check = check_annotation(100, apex, offset, FRAMES)
    assert (check.apex, check.offset) == (expected_apex, expected_offset)
    if says is None:
        assert check.notes == ()
    else:
        assert any(says in note for note in check.notes), check.notes
    if expected_offset != offset:
        assert any("clamped to the last frame on disk (110)" in n for n in check.notes)


def test_check_annotation_without_an_apex_problem_note():
    """MMI without an apex marker: a missing apex is no problem (it takes the midpoint)."""
    assert check_annotation(100, None, 110, FRAMES, no_apex=None).notes == ()


@pytest.fixture(scope="module", params=["casme2", "samm"])
def holes_manifest(request, tmp_path_factory):
    """A release whose sheet has every hole of SHEET_HOLES, ingested (manifest only)."""
    database = request.param
    root = tmp_path_factory.mktemp(f"{database}_holes")
    writer = write_casme2 if database == "casme2" else write_samm
    sheet = {"sheet": "updated"} if database == "casme2" else {}
    truth = writer(root / "raw", holes=True, size=(160, 120), **sheet)
    ingest_database(database, root / "raw", root / "data", IngestOptions(align_faces=False))
    manifest = pd.read_parquet(root / "data" / database / "manifest.parquet")
    return database, truth, manifest.set_index("key")


def test_holes_are_estimated_near_the_true_peak_and_flagged(holes_manifest):
    database, truth, manifest = holes_manifest
    holes = [t for t in truth if t.hole]
    assert {t.hole for t in holes} == set(SHEET_HOLES)
    assert (manifest.status != "rejected").all(), manifest.reason[manifest.status == "rejected"]
    for t in truth:
        row = manifest.loc[f"{database}__{t.subject}__{t.clip}"]
        # The demo motion peaks at t.apex: the estimate lies on it (one frame of slack).
        assert abs(row.apex - t.apex) <= 1, (t.hole, row.apex, t.apex)
        assert row.offset == t.offset and row.apex in list(row.expression_frames)
        if t.hole is None:
            assert (row.status, row.apex_source) == ("ok", "annotated")
            continue
        assert row.status == "flagged" and t.flagged in row.reason
        if t.hole.startswith("apex"):
            assert row.apex_source == "estimated:max-diff"
            assert f"apex estimated from the frames: frame {row.apex} (max-diff)" in row.reason
        else:  # an offset hole: the annotated apex stands, the offset is clamped
            assert row.apex_source == "annotated" and "clamped" in row.reason


def test_holes_never_change_the_composite_set(holes_manifest):
    """Only the scheme's named exclusions leave a CDE-class clip out, never a hole."""
    database, truth, manifest = holes_manifest
    cde = load_scheme("cde")
    named = {(q[0], q[1]) for q in CASME2_QUIRK_CLIPS}
    for t in truth:
        row = manifest.loc[f"{database}__{t.subject}__{t.clip}"]
        label = None if pd.isna(row.label_cde) else row.label_cde
        if database == "casme2" and (int(t.subject[3:]), t.clip) in named:
            assert label is None and "official MEGC 2019 list" in row.excluded_cde
        else:
            assert label == cde.maps[database].get(t.label)


def test_estimating_from_an_unreadable_frame_rejects_the_clip(tmp_path: Path):
    truth = write_casme2(tmp_path, subjects=1, clips_per_subject=2, size=(64, 48), holes=True)
    clip = next(t for t in truth if t.hole == "apex empty")
    folder = tmp_path / "CASME2_RAW_selected" / clip.subject / clip.clip
    (folder / f"img{clip.apex}.jpg").write_bytes(b"not a jpeg")
    record = next(
        r for r in open_release("casme2", tmp_path).parse().records if r.clip == clip.clip
    )
    estimate_apex(record)
    assert record.apex is None
    assert record.reject_reason.startswith(f"cannot estimate the apex: {folder}/img{clip.apex}.jpg")
    assert "cannot decode image" in record.reject_reason


def test_mmi_apex_marker_on_the_onset_is_estimated_from_the_video(tmp_path: Path):
    import re

    from mepipe.demo.macro import write_mmi

    clips = write_mmi(tmp_path, subjects=1, sessions_per_subject=2)
    clip = next(c for c in clips if c.label and "markers" in c.extra)
    path = tmp_path / "Sessions" / clip.extra["session"] / clip.extra["markers"]
    # Onset on the video's neutral first frame (the demo's markers start a frame later,
    # already in motion), and the apex marker on it too.
    text = re.sub(r'Frame="\d+" Type="[12]"', 'Frame="1" Type="1"', path.read_text())
    path.write_text(text.replace('Frame="1" Type="1"', 'Frame="1" Type="2"', 1))
    record = next(r for r in open_release("mmi", tmp_path).parse().records if r.clip == clip.clip)
    assert (record.onset, record.apex, record.apex_source) == (1, None, ApexSource.ESTIMATED)
    estimate_apex(record)
    assert abs(record.apex - clip.apex) <= 1 and record.reject_reason is None
    assert record.flag == (
        f"{clip.extra['markers']}: apex frame 1 is the onset frame; "
        f"apex estimated from the frames: frame {record.apex} (max-diff)"
    )


def test_frames_are_decoded_one_at_a_time(tmp_path: Path):
    """max-diff streams a clip (iter_frames): a long clip of SAMM-sized frames is never
    in memory whole. Lazy decoding shows as a good first frame before a broken second."""
    from mepipe.errors import MepipeError
    from mepipe.images import iter_frames

    good, bad = tmp_path / "img1.png", tmp_path / "img2.png"
    Image.new("RGB", (8, 6), "white").save(good)
    bad.write_bytes(b"not a png")
    frames = iter_frames([1, 2], [1, 2], [str(good), str(bad)])
    assert next(frames).shape == (6, 8, 3)
    with pytest.raises(MepipeError, match="img2.png"):
        next(frames)


def test_one_apex_method_for_every_unannotated_release(tmp_path: Path):
    """MMI videos without an apex marker take --apex-method like SMIC; marked ones keep
    their marker, and each clip records which it got."""
    from mepipe.demo.macro import write_mmi

    root = tmp_path / "MMI"
    write_mmi(root, size=(96, 72))
    ingest_database(
        "mmi", root, tmp_path / "data", IngestOptions(align_faces=False, apex_method="max-diff")
    )
    manifest = pd.read_parquet(tmp_path / "data" / "mmi" / "manifest.parquet")
    usable = manifest[manifest.status != "rejected"]
    assert set(usable.apex_source) == {"max-diff", "oao-marker"}
    for row in usable[usable.apex_source == "max-diff"].itertuples():
        record = next(r for r in open_release("mmi", root).parse().records if r.key == row.key)
        assert row.apex == max_diff_apex(record)


def test_unknown_apex_method_is_named(smic, tmp_path: Path):
    from mepipe.errors import MepipeError

    with pytest.raises(
        MepipeError, match="unknown apex method 'peak' \\(known: midpoint, max-diff\\)"
    ):
        ingest_database("smic", smic[0], tmp_path / "data", IngestOptions(apex_method="peak"))


@pytest.mark.parametrize("flag", ["--apex-method", "--smic-apex"])
def test_apex_method_flag_and_its_old_name(smic, tmp_path: Path, flag: str):
    from click.testing import CliRunner

    from mepipe.cli import main

    out = tmp_path / "data"
    result = CliRunner().invoke(
        main, ["ingest", "smic", str(smic[0]), "--out", str(out), "--no-align", flag, "max-diff"]
    )
    assert result.exit_code == 0, result.output
    assert set(pd.read_parquet(out / "smic" / "manifest.parquet").apex_source) == {"max-diff"}
