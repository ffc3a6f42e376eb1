"""Bad input through the CLI: a plain message naming the file and the problem, a non-zero
exit and no traceback for fatal problems; a line in the report for per-clip problems."""

from __future__ import annotations

import json
import shutil
from pathlib import Path

import pytest
from click.testing import CliRunner

from mepipe.cli import main


def ingest(*args: str):
    result = CliRunner().invoke(main, ["ingest", *args, "--no-align"])
    assert "Traceback" not in result.output
    return result


@pytest.fixture
def casme2(tmp_path: Path):
    from mepipe.demo.micro import write_casme2

    root = tmp_path / "CASME2"
    truth = write_casme2(root, subjects=2, clips_per_subject=3)
    return root, truth


def sheet_of(root: Path) -> Path:
    return next(root.rglob("CASME2-coding-*.xlsx"))


def frames_of(root: Path, clip) -> Path:
    return next(p for p in root.rglob(clip.clip) if p.is_dir() and p.parent.name == clip.subject)


def test_unknown_database_name(tmp_path: Path):
    result = ingest("casme3", str(tmp_path), "--out", str(tmp_path / "out"))
    assert result.exit_code == 2
    assert "casme3" in result.output


def test_empty_release_folder(tmp_path: Path):
    (tmp_path / "empty").mkdir()
    result = ingest("casme2", str(tmp_path / "empty"), "--out", str(tmp_path / "out"))
    assert result.exit_code == 1
    assert "empty" in result.output and str(tmp_path / "empty") in result.output


def test_missing_release_folder(tmp_path: Path):
    result = ingest("samm", str(tmp_path / "nowhere"), "--out", str(tmp_path / "out"))
    assert result.exit_code == 1
    assert "does not exist" in result.output


def test_root_that_holds_another_database(tmp_path: Path):
    from mepipe.demo.micro import write_samm

    write_samm(tmp_path / "SAMM", subjects=1, clips_per_subject=2)
    result = ingest("casme2", str(tmp_path / "SAMM"), "--out", str(tmp_path / "out"))
    assert result.exit_code == 1
    assert "does not look like a CASME II release" in result.output
    assert "SAMM" in result.output


def test_missing_annotation_file(casme2, tmp_path: Path):
    root, _ = casme2
    sheet_of(root).unlink()
    result = ingest("casme2", str(root), "--out", str(tmp_path / "out"))
    assert result.exit_code == 1
    assert "annotation" in result.output.lower()
    assert not (tmp_path / "out" / "casme2" / "manifest.parquet").exists()


def test_unknown_emotion_label_names_file_and_row(casme2, tmp_path: Path):
    import openpyxl

    root, _ = casme2
    path = sheet_of(root)
    book = openpyxl.load_workbook(path)
    book.active.cell(row=3, column=9, value="joy")
    book.save(path)
    result = ingest("casme2", str(root), "--out", str(tmp_path / "out"))
    assert result.exit_code == 1
    assert path.name in result.output and "row 3" in result.output and "'joy'" in result.output


def run_and_report(root: Path, out: Path) -> dict:
    result = ingest("casme2", str(root), "--out", str(out))
    assert result.exit_code == 0, result.output
    return json.loads((out / "casme2" / "ingest_report.json").read_text())


def test_missing_apex_frame_rejects_only_that_clip(casme2, tmp_path: Path):
    root, truth = casme2
    clip = truth[0]
    missing = next(frames_of(root, clip).glob(f"img{clip.apex}.jpg"))
    missing.unlink()
    report = run_and_report(root, tmp_path / "out")
    reasons = {r["key"]: r["reason"] for r in report["rejected"]}
    key = f"casme2__{clip.subject}__{clip.clip}"
    assert list(reasons) == [key]
    assert str(clip.apex) in reasons[key] and "missing" in reasons[key]
    assert report["clips_accepted"] == len(truth) - 1


def test_truncated_frame_rejects_the_clip(casme2, tmp_path: Path):
    root, truth = casme2
    clip = truth[1]
    frame = frames_of(root, clip) / f"img{clip.apex}.jpg"
    frame.write_bytes(frame.read_bytes()[: frame.stat().st_size // 3])
    report = run_and_report(root, tmp_path / "out")
    reasons = {r["key"]: r["reason"] for r in report["rejected"]}
    reason = reasons[f"casme2__{clip.subject}__{clip.clip}"]
    assert frame.name in reason and "truncated" in reason


def test_decompression_bomb_frames_reject_their_clips_and_ingest_goes_on(casme2, tmp_path: Path):
    from png_helpers import zero_png

    root, truth = casme2
    # The onset frame is read first (for the frame size), the apex frame later.
    bomb = zero_png(frames_of(root, truth[0]) / f"img{truth[0].onset}.jpg", 20000, 20000)
    huge = zero_png(frames_of(root, truth[1]) / f"img{truth[1].apex}.jpg", 12000, 12000)
    report = run_and_report(root, tmp_path / "out")
    reasons = {r["key"]: r["reason"] for r in report["rejected"]}
    assert sorted(reasons) == sorted(f"casme2__{c.subject}__{c.clip}" for c in truth[:2])
    too_large = f"{bomb}: frame is too large to decode (400 MP, over the limit of 40 MP"
    assert too_large in reasons[f"casme2__{truth[0].subject}__{truth[0].clip}"]
    over = f"{huge}: frame is 12000x12000 (144 MP), over the limit of 40 MP per frame"
    assert over in reasons[f"casme2__{truth[1].subject}__{truth[1].clip}"]
    assert report["clips_accepted"] == len(truth) - 2


def test_apex_outside_onset_offset_and_apex_slash_are_flagged(casme2, tmp_path: Path):
    """Holes in a sheet's apex cells lose no clip: estimated, flagged, listed in the report."""
    import openpyxl
    import pandas as pd

    root, truth = casme2
    path = sheet_of(root)
    book = openpyxl.load_workbook(path)
    sheet = book.active
    sheet.cell(row=2, column=5, value=truth[0].offset + 50)  # ApexFrame past the offset
    sheet.cell(row=3, column=5, value="/")
    book.save(path)
    report = run_and_report(root, tmp_path / "out")
    assert report["rejected"] == [] and report["clips_accepted"] == len(truth)
    flagged = {r["key"]: r["reason"] for r in report["flagged"]}
    keys = [f"casme2__{c.subject}__{c.clip}" for c in truth[:2]]
    assert sorted(flagged) == sorted(keys)
    assert "is outside onset..offset" in flagged[keys[0]]
    assert "(the ApexFrame cell is '/')" in flagged[keys[1]]
    manifest = pd.read_parquet(tmp_path / "out" / "casme2" / "manifest.parquet").set_index("key")
    for key, clip in zip(keys, truth, strict=False):
        assert manifest.loc[key, "apex_source"] == "estimated:max-diff"
        assert manifest.loc[key, "apex"] == clip.apex  # where the demo motion peaks
        assert f"apex estimated from the frames: frame {clip.apex} (max-diff)" in flagged[key]


def test_stray_files_do_not_fail_and_are_counted(casme2, tmp_path: Path):
    root, truth = casme2
    folder = frames_of(root, truth[0])
    (folder / "Desktop - Shortcut.lnk").write_bytes(b"\x00")
    report = run_and_report(root, tmp_path / "out")
    assert any(s.endswith("Desktop - Shortcut.lnk") for s in report["stray_files"])
    assert report["clips_accepted"] == len(truth)


def test_a_crash_leaves_the_previous_manifest_intact(casme2, tmp_path: Path):
    root, _ = casme2
    out = tmp_path / "out"
    run_and_report(root, out)
    manifest = out / "casme2" / "manifest.parquet"
    before = manifest.read_bytes()
    shutil.rmtree(next(root.rglob("CASME2_RAW_selected")))  # the next run fails
    result = ingest("casme2", str(root), "--out", str(out))
    assert result.exit_code == 1
    assert manifest.read_bytes() == before


def test_header_row_not_found(casme2, tmp_path: Path):
    import openpyxl

    root, _ = casme2
    path = sheet_of(root)
    book = openpyxl.load_workbook(path)
    book.active.cell(row=1, column=4, value="Start")  # was OnsetFrame
    book.save(path)
    result = ingest("casme2", str(root), "--out", str(tmp_path / "out"))
    assert result.exit_code == 1
    assert path.name in result.output and "header row not found" in result.output


def test_frames_missing_inside_a_clip_flag_it_with_their_numbers(casme2, tmp_path: Path):
    root, truth = casme2
    clip = truth[0]  # onset 3, apex 11: delete one frame before the window, one inside it
    deleted = (clip.onset + 2, clip.apex - 1)
    for number in deleted:
        (frames_of(root, clip) / f"img{number}.jpg").unlink()
    report = run_and_report(root, tmp_path / "out")
    flagged = {r["key"]: r["reason"] for r in report["flagged"]}
    reason = flagged[f"casme2__{clip.subject}__{clip.clip}"]
    assert f"2 frames missing on disk between neutral frame {clip.onset}" in reason
    assert reason.endswith(f": {deleted[0]}, {deleted[1]}")
    assert report["clips_accepted"] == len(truth)


def test_clip_cell_pointing_into_another_subject_rejects_the_clip(casme2, tmp_path: Path):
    import openpyxl
    import pandas as pd

    root, truth = casme2
    other = next(c for c in truth if c.subject != truth[0].subject)
    path = sheet_of(root)
    book = openpyxl.load_workbook(path)
    book.active.cell(row=2, column=2, value=f"../{other.subject}/{other.clip}")  # Filename
    book.save(path)
    report = run_and_report(root, tmp_path / "out")
    (rejected,) = report["rejected"]
    assert "is not a plain file or folder name" in rejected["reason"]
    manifest = pd.read_parquet(tmp_path / "out" / "casme2" / "manifest.parquet")
    row = manifest.set_index("key").loc[rejected["key"]]
    assert row["subject"] == truth[0].subject and list(row["frame_paths"]) == []
    assert report["clips_accepted"] == len(truth) - 1


def _set_onset_to_1e30(sheet) -> None:
    sheet.cell(row=3, column=4, value=1e30)


def _set_onset_to_a_formula(sheet) -> None:
    sheet.cell(row=3, column=4, value="=E3-8")  # openpyxl saves it without a value


def _merge_subject_cells(sheet) -> None:
    sheet.merge_cells("A2:A3")


@pytest.mark.parametrize(
    ("mutate", "says"),
    [
        (_set_onset_to_1e30, "OnsetFrame is 1e+30, not a frame number (0 to 2147483647)"),
        (_set_onset_to_a_formula, "OnsetFrame cell D3 holds the formula =E3-8 but no saved value"),
        (_merge_subject_cells, "Subject cell A3 is part of the merged cells A2:A3"),
    ],
)
def test_sheet_cell_problems_are_one_line_naming_file_row_and_column(
    casme2, tmp_path: Path, mutate, says
):
    import openpyxl

    root, _ = casme2
    path = sheet_of(root)
    book = openpyxl.load_workbook(path)
    mutate(book.active)
    book.save(path)
    result = ingest("casme2", str(root), "--out", str(tmp_path / "out"))
    assert result.exit_code == 1 and isinstance(result.exception, SystemExit)
    assert result.output.startswith(f"Error: {path}, row 3: {says}")
    assert result.output.count("\n") == 1
    assert not (tmp_path / "out" / "casme2" / "manifest.parquet").exists()


# --- hostile input that was already handled: kept as regression tests (issue 8) ----------


@pytest.mark.parametrize(
    "content", [b"", b"\xff\xd8\xff\xe0 not a jpeg at all"], ids=["empty", "fake"]
)
def test_empty_or_fake_frame_rejects_the_clip(casme2, tmp_path: Path, content: bytes):
    root, truth = casme2
    clip = truth[2]
    frame = frames_of(root, clip) / f"img{clip.apex}.jpg"
    frame.write_bytes(content)
    report = run_and_report(root, tmp_path / "out")
    reasons = {r["key"]: r["reason"] for r in report["rejected"]}
    assert list(reasons) == [f"casme2__{clip.subject}__{clip.clip}"]
    (reason,) = reasons.values()
    assert str(frame) in reason and "cannot decode image" in reason
    assert report["clips_accepted"] == len(truth) - 1


def test_symlink_loops_in_the_release_are_passed_over(casme2, tmp_path: Path):
    import os

    root, truth = casme2
    clip_dir = frames_of(root, truth[0])
    os.symlink(".", clip_dir.parent / "loop")  # a subject folder that contains itself
    os.symlink("img999.jpg", clip_dir / "img999.jpg")  # a frame that points at itself
    os.symlink("b.jpg", clip_dir / "a.jpg")
    os.symlink("a.jpg", clip_dir / "b.jpg")
    report = run_and_report(root, tmp_path / "out")
    assert report["clips_accepted"] == len(truth) and report["rejected"] == []
    for name in ("img999.jpg", "a.jpg", "b.jpg"):
        assert str(clip_dir / name) in report["stray_files"]
    assert any("sub01/loop" in note for note in report["notes"])


def test_non_ascii_paths_are_read(tmp_path: Path):
    import pandas as pd

    from mepipe.demo.micro import write_casme2

    root = tmp_path / "données" / "中文 CASME2"
    truth = write_casme2(root, subjects=1, clips_per_subject=2)
    out = tmp_path / "sortie é"
    report = run_and_report(root, out)
    assert report["clips_accepted"] == len(truth) and report["rejected"] == []
    manifest = pd.read_parquet(out / "casme2" / "manifest.parquet")
    assert all("données/中文 CASME2" in p for p in manifest["frame_paths"].iloc[0])


def test_cmyk_and_rgba_frames_are_read_as_rgb(casme2, tmp_path: Path):
    import numpy as np
    from PIL import Image

    from mepipe.images import read_image

    root, truth = casme2
    clip = truth[0]
    folder = frames_of(root, clip)
    apex = folder / f"img{clip.apex}.jpg"
    original = np.asarray(Image.open(apex).convert("RGB"), int)
    Image.open(apex).convert("CMYK").save(apex, quality=95)
    after = folder / f"img{clip.apex + 1}.jpg"
    with Image.open(after) as image:
        image.convert("RGBA").save(folder / f"img{clip.apex + 1}.png")
    after.unlink()
    assert Image.open(apex).mode == "CMYK"
    assert Image.open(folder / f"img{clip.apex + 1}.png").mode == "RGBA"
    report = run_and_report(root, tmp_path / "out")
    assert report["clips_accepted"] == len(truth) and report["rejected"] == []
    cmyk = read_image(str(apex))
    rgba = read_image(str(folder / f"img{clip.apex + 1}.png"))
    assert cmyk.shape == rgba.shape == original.shape and cmyk.dtype == np.uint8
    assert np.abs(cmyk.astype(int) - original).mean() < 8
