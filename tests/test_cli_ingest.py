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


def test_apex_outside_onset_offset_and_apex_slash(casme2, tmp_path: Path):
    import openpyxl

    root, truth = casme2
    path = sheet_of(root)
    book = openpyxl.load_workbook(path)
    sheet = book.active
    sheet.cell(row=2, column=5, value=truth[0].offset + 50)  # ApexFrame past the offset
    sheet.cell(row=3, column=5, value="/")
    book.save(path)
    report = run_and_report(root, tmp_path / "out")
    reasons = sorted(r["reason"] for r in report["rejected"])
    assert len(reasons) == 2
    assert any("outside" in r for r in reasons)
    assert any("/" in r or "no apex" in r for r in reasons)


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
