"""CASME II, SMIC and SAMM adapters against demo releases written as on disk.

Every test writes a miniature release with mepipe.demo.micro (tiny frames, few of them),
optionally breaks it the way real copies are broken, parses it, and compares the records
with the writer's ground truth.
"""

from __future__ import annotations

import dataclasses
import os
import shutil
from pathlib import Path

import openpyxl
import pytest

from mepipe.adapters import ADAPTERS, adapter_options, open_release
from mepipe.adapters.casme2 import Casme2Adapter
from mepipe.adapters.layout import child_path
from mepipe.adapters.samm import SammAdapter
from mepipe.adapters.smic import SmicAdapter, smic_clip, smic_subject
from mepipe.apex import midpoint_apex
from mepipe.demo.micro import (
    ACTION_UNITS,
    CASME2_QUIRK_CLIPS,
    SHEET_HOLES,
    write_casme2,
    write_samm,
    write_smic,
)
from mepipe.demo.truth import DemoClip
from mepipe.errors import MepipeError
from mepipe.frames import frame_number
from mepipe.protocols import database_info
from mepipe.records import ApexSource, ClipRecord, clip_key

os.environ.setdefault("OMP_NUM_THREADS", "1")

SMALL = {"size": (64, 48), "frames": (9, 11), "subjects": 2, "clips_per_subject": 4}
MICRO = ("casme2", "smic", "samm")


def fps_of(clip: DemoClip) -> float:
    fps = database_info(clip.database)["fps"]
    return float(fps[clip.extra["subset"]] if isinstance(fps, dict) else fps)


def assert_matches_truth(records: list[ClipRecord], truth: list[DemoClip]) -> None:
    """Every field of every record equals what the demo writer says it wrote."""
    by_key = {r.key: r for r in records}
    assert len(by_key) == len(records), "clip keys are not unique"
    assert sorted(by_key) == sorted(clip_key(t.database, t.subject, t.clip) for t in truth)
    for t in truth:
        r = by_key[clip_key(t.database, t.subject, t.clip)]
        assert (r.database, r.subject, r.clip, r.label) == (t.database, t.subject, t.clip, t.label)
        assert (r.onset, r.offset) == (t.onset, t.offset)  # a mistyped offset is clamped
        if r.apex_source == ApexSource.ESTIMATED:  # a hole in the apex cell
            assert t.hole and t.hole.startswith("apex") and r.apex is None
        else:
            assert r.apex == t.apex
        if t.hole is None:
            assert r.flag is None
        else:  # flagged with what was wrong; the clip is not rejected
            assert r.flag is not None and t.flagged is not None and t.flagged in r.flag
        assert list(r.source.numbers) == t.frame_numbers
        assert [frame_number(Path(p)) for p in r.source.paths] == t.frame_numbers
        assert all(Path(p).is_file() for p in r.source.paths)
        assert r.source.video is None
        assert (r.width, r.height) == t.size
        assert r.fps == fps_of(t)
        assert r.extra == t.extra
        assert r.reject_reason is None
        if t.database == "smic":
            assert r.apex_source == ApexSource.MIDPOINT and r.action_units is None
        else:
            assert r.apex_source in (ApexSource.ANNOTATED, ApexSource.ESTIMATED)
            assert r.action_units == str(ACTION_UNITS[t.label])


def relative(records: list[ClipRecord], root: Path) -> list[ClipRecord]:
    """Records with frame paths relative to `root`, to compare releases written apart."""
    out = []
    for r in records:
        paths = tuple(str(Path(p).relative_to(root)) for p in r.source.paths)
        out.append(dataclasses.replace(r, source=dataclasses.replace(r.source, paths=paths)))
    return out


def parse(name: str, root: Path, **options) -> tuple[list[ClipRecord], object]:
    result = open_release(name, root, adapter_options(name, **options)).parse()
    return result.records, result


def by_key(records: list[ClipRecord]) -> dict[str, ClipRecord]:
    return {r.key: r for r in records}


def set_cell(path: Path, row: int, column: str, value: object) -> None:
    """Overwrite one cell of an .xlsx, the column found by its header text in the sheet."""
    workbook = openpyxl.load_workbook(path)
    sheet = workbook.worksheets[0]
    for cells in sheet.iter_rows(min_row=1, max_row=20):
        for cell in cells:
            if cell.value == column:
                sheet.cell(row=row, column=cell.column).value = value
                workbook.save(path)
                return
    raise AssertionError(f"no column {column} in {path}")


# --- fixtures: one clean release per database, copied for tests that break it --------------


@pytest.fixture(scope="module")
def casme2_release(tmp_path_factory) -> tuple[Path, list[DemoClip]]:
    root = tmp_path_factory.mktemp("casme2")
    return root, write_casme2(root, **SMALL)


@pytest.fixture(scope="module")
def samm_release(tmp_path_factory) -> tuple[Path, list[DemoClip]]:
    root = tmp_path_factory.mktemp("samm")
    return root, write_samm(root, **SMALL)


@pytest.fixture(scope="module")
def smic_release(tmp_path_factory) -> tuple[Path, list[DemoClip]]:
    root = tmp_path_factory.mktemp("smic")
    return root, write_smic(root, subsets=("HS", "VIS", "NIR"), **SMALL)


@pytest.fixture
def casme2_copy(casme2_release, tmp_path) -> tuple[Path, list[DemoClip]]:
    root, truth = casme2_release
    shutil.copytree(root, tmp_path / "release")
    return tmp_path / "release", truth


@pytest.fixture
def samm_copy(samm_release, tmp_path) -> tuple[Path, list[DemoClip]]:
    root, truth = samm_release
    shutil.copytree(root, tmp_path / "release")
    return tmp_path / "release", truth


@pytest.fixture
def smic_copy(smic_release, tmp_path) -> tuple[Path, list[DemoClip]]:
    root, truth = smic_release
    shutil.copytree(root, tmp_path / "release")
    return tmp_path / "release", truth


# --- CASME II: every variant parses to the ground truth -----------------------------------


@pytest.mark.parametrize(
    ("sheet", "subject_cells", "frames_dir", "cropped"),
    [
        ("2014", "int", "CASME2_RAW_selected", False),
        ("2019", "text", "CASME2_RAW", False),
        ("xls", "int", "CASME2-RAW", False),
        ("xls", "text", "Cropped", True),
        ("2014", "text", "CASME2_Cropped", True),
    ],
)
def test_casme2_variants_parse_to_truth(tmp_path, sheet, subject_cells, frames_dir, cropped):
    truth = write_casme2(
        tmp_path, sheet=sheet, subject_cells=subject_cells, frames_dir=frames_dir,
        cropped=cropped, **SMALL,
    )  # fmt: skip
    records, result = parse("casme2", tmp_path, variant="cropped" if cropped else "raw")
    assert_matches_truth(records, truth)
    assert {t.label for t in truth} == set(database_info("casme2")["labels"])
    assert all(Path(p).name.startswith("reg_") == cropped for r in records for p in r.source.paths)
    assert result.notes == []


def test_casme2_int_and_text_subjects_give_identical_records(tmp_path):
    as_int = write_casme2(tmp_path / "a", subject_cells="int", **SMALL)
    as_text = write_casme2(tmp_path / "b", subject_cells="text", **SMALL)
    assert as_int == as_text
    records_int, _ = parse("casme2", tmp_path / "a")
    records_text, _ = parse("casme2", tmp_path / "b")
    assert relative(records_int, tmp_path / "a") == relative(records_text, tmp_path / "b")


def test_casme2_found_below_the_folder_the_user_names(tmp_path):
    truth = write_casme2(tmp_path / "downloads" / "CASME2", **SMALL)
    records, _ = parse("casme2", tmp_path / "downloads")
    for record in records:  # the sheet path is relative to the root the user gave
        record.extra["sheet"] = record.extra["sheet"].removeprefix("CASME2/")
    assert_matches_truth(records, truth)


def test_casme2_variant_falls_back_with_a_note(tmp_path):
    truth = write_casme2(tmp_path, **SMALL)
    records, result = parse("casme2", tmp_path, variant="cropped")
    assert_matches_truth(records, truth)
    assert any("no cropped CASME II frames" in n and "using the raw" in n for n in result.notes)


def test_casme2_both_trees_variant_chooses(tmp_path):
    raw = write_casme2(tmp_path, **SMALL)
    cropped = write_casme2(tmp_path, cropped=True, **SMALL)
    records, result = parse("casme2", tmp_path, variant="cropped")
    assert_matches_truth(records, cropped)
    assert all("/Cropped/" in p for r in records for p in r.source.paths)
    records, _ = parse("casme2", tmp_path, variant="raw")
    assert_matches_truth(records, raw)
    assert result.notes == []


def test_casme2_frames_sort_numerically(casme2_release):
    root, truth = casme2_release
    first = by_key(parse("casme2", root)[0])[clip_key("casme2", "sub01", truth[0].clip)]
    assert first.onset < 9 < 10 < first.offset  # the writer crosses img9 -> img10 here
    names = [Path(p).name for p in first.source.paths]
    assert names.index("img9.jpg") + 1 == names.index("img10.jpg")
    assert list(first.source.numbers) == sorted(first.source.numbers)


def test_casme2_stray_files_are_listed_not_fatal(casme2_release):
    root, truth = casme2_release
    _, result = parse("casme2", root)
    frames = root / "CASME2_RAW_selected"
    first = frames / truth[0].subject / truth[0].clip
    assert sorted(result.stray_files) == sorted(
        str(p) for p in (frames / ".DS_Store", frames / "sub01" / "Thumbs.db", first / "Desktop - Shortcut.lnk")
    )  # fmt: skip


def test_casme2_unlisted_clip_folder_is_noted(casme2_copy):
    root, _ = casme2_copy
    shutil.copytree(
        root / "CASME2_RAW_selected/sub01/EP02_01f", root / "CASME2_RAW_selected/sub01/EP99"
    )
    _, result = parse("casme2", root)
    assert any("sub01/EP99" in n and "not in" in n for n in result.notes)


# --- CASME II and SAMM: fatal sheet problems ---------------------------------------------


SHEET_2014 = "CASME2-coding-20140508.xlsx"
SAMM_SHEET = "SAMM_Micro_FACS_Codes_v2.xlsx"
# The sheet each demo release is read from (see the casme2_copy and samm_copy fixtures).
SHEET_OF = {"casme2": SHEET_2014, "samm": SAMM_SHEET}


def sheet_copy(request: pytest.FixtureRequest, database: str) -> tuple[Path, Path]:
    """(root, annotation sheet) of a fresh copy of the demo release of `database`."""
    root, _ = request.getfixturevalue(f"{database}_copy")
    return root, root / SHEET_OF[database]


@pytest.mark.parametrize(
    ("database", "pattern"),
    [("casme2", "no CASME II annotation file"), ("samm", "no SAMM annotation file")],
)
def test_missing_annotation_file(request, database, pattern):
    root, sheet = sheet_copy(request, database)
    sheet.unlink()
    with pytest.raises(MepipeError, match=pattern) as err:
        parse(database, root)
    assert err.value.path == str(root)


@pytest.mark.parametrize(
    ("database", "row", "column", "value", "pattern"),
    [
        ("casme2", 1, "OnsetFrame", "Start", "header row not found.*'OnsetFrame'"),
        ("samm", 14, "Filename", "Clip", "header row not found.*'Filename'"),
    ],
)
def test_header_row_not_found(request, database, row, column, value, pattern):
    root, sheet = sheet_copy(request, database)
    set_cell(sheet, row, column, value)
    with pytest.raises(MepipeError, match=pattern) as err:
        parse(database, root)
    assert err.value.path == str(sheet)


@pytest.mark.parametrize(
    ("database", "row", "value", "pattern"),
    [
        ("casme2", 4, "joy", "unknown emotion label 'joy'"),
        ("samm", 17, "Boredom", "unknown emotion label 'Boredom'"),
    ],
)
def test_unknown_emotion_names_the_row(request, database, row, value, pattern):
    root, sheet = sheet_copy(request, database)
    set_cell(sheet, row, "Estimated Emotion", value)
    with pytest.raises(MepipeError, match=pattern) as err:
        parse(database, root)
    assert (err.value.path, err.value.row) == (str(sheet), row)
    assert f"{sheet.name}, row {row}" in str(err.value)


@pytest.mark.parametrize("value", ["abc", 46.5, None])
def test_casme2_frame_cell_not_an_integer(casme2_copy, value):
    root, _ = casme2_copy
    set_cell(root / SHEET_2014, 3, "OffsetFrame", value)
    with pytest.raises(MepipeError, match="OffsetFrame is .*not an integer frame number") as err:
        parse("casme2", root)
    assert (err.value.path, err.value.row) == (str(root / SHEET_2014), 3)


def test_casme2_subject_cell_not_a_subject(casme2_copy):
    root, _ = casme2_copy
    set_cell(root / SHEET_2014, 5, "Subject", "Bob")
    with pytest.raises(MepipeError, match="Subject cell 'Bob' is not a subject id") as err:
        parse("casme2", root)
    assert err.value.row == 5


@pytest.mark.parametrize("database", ["casme2", "samm"])
@pytest.mark.parametrize(
    ("value", "shown"),
    [(1e30, "1e+30"), ("1e30", "'1e30'"), ("99999999999999999999", "99999999999999999999")],
)
def test_frame_cell_too_large_names_the_row(request, database, value, shown):
    # a frame number like 1e30 overflowed the manifest's integer columns (issue 8, item 12)
    root, sheet = sheet_copy(request, database)
    row = 16 if database == "samm" else 3
    column = "Onset Frame" if database == "samm" else "OnsetFrame"
    set_cell(sheet, row, column, value)
    with pytest.raises(MepipeError) as err:
        parse(database, root)
    assert (err.value.path, err.value.row) == (str(sheet), row)
    assert err.value.message.startswith(f"{column} is {shown}, not ")


@pytest.mark.parametrize("database", ["casme2", "samm"])
def test_formula_cell_without_a_saved_value_says_it_is_a_formula(request, database):
    root, sheet = sheet_copy(request, database)
    row = 17 if database == "samm" else 4
    column = "Offset Frame" if database == "samm" else "OffsetFrame"
    set_cell(sheet, row, column, f"=B{row}+20")  # openpyxl saves formulas without a value
    with pytest.raises(MepipeError) as err:
        parse(database, root)
    assert (err.value.path, err.value.row) == (str(sheet), row)
    assert f"{column} cell F{row} holds the formula =B{row}+20 but no saved value" in (
        err.value.message
    )


@pytest.mark.parametrize("database", ["casme2", "samm"])
def test_merged_subject_cell_says_it_is_merged(request, database):
    root, sheet = sheet_copy(request, database)
    first = 15 if database == "samm" else 2
    workbook = openpyxl.load_workbook(sheet)
    workbook.worksheets[0].merge_cells(f"A{first}:A{first + 2}")  # as typed by hand
    workbook.save(sheet)
    with pytest.raises(MepipeError) as err:
        parse(database, root)
    assert (err.value.path, err.value.row) == (str(sheet), first + 1)
    assert err.value.message.startswith(
        f"Subject cell A{first + 1} is part of the merged cells A{first}:A{first + 2}, "
        f"whose value only A{first} holds"
    )


def test_merged_subject_cell_in_a_legacy_xls_says_it_is_merged(tmp_path):
    import xlrd
    import xlwt

    write_casme2(tmp_path, sheet="xls", **SMALL)
    path = tmp_path / "CASME2_label_Ver_2.xls"
    old = xlrd.open_workbook(str(path)).sheet_by_index(0)
    book = xlwt.Workbook()
    new = book.add_sheet("Sheet1")
    for r in range(old.nrows):
        for c, cell in enumerate(old.row(r)):
            if not (c == 0 and 1 <= r <= 3) and cell.value != "":
                new.write(r, c, cell.value)
    new.write_merge(1, 3, 0, 0, old.cell_value(1, 0))  # rows 2-4 of the Subject column
    book.save(str(path))
    with pytest.raises(MepipeError, match="Subject cell A3 is part of the merged cells A2:A4"):
        parse("casme2", root=tmp_path)


def test_child_path_keeps_names_inside_their_folder(tmp_path):
    assert child_path(tmp_path, "sub01", "EP02_01f") == tmp_path / "sub01" / "EP02_01f"
    assert child_path(tmp_path, "EP 01 f (2)..") == tmp_path / "EP 01 f (2).."
    for bad, why in [
        ("", "it is empty"),
        ("..", "the folder itself or its parent"),
        ("a/../b", "path separator"),
        ("a\\b", "path separator"),
        ("a\0b", "NUL"),
    ]:
        with pytest.raises(MepipeError, match=why) as err:
            child_path(tmp_path, "sub01", bad)
        assert err.value.path == str(tmp_path / "sub01")


@pytest.mark.parametrize("database", ["casme2", "samm"])
def test_clip_named_twice_names_both_rows(request, database):
    root, truth = request.getfixturevalue(f"{database}_copy")
    sheet = root / SHEET_OF[database]
    records = parse(database, root)[0]
    first, second = (_sheet_row_of(records, clip) for clip in truth[:2])
    set_cell(sheet, second, "Filename", truth[0].clip)
    with pytest.raises(MepipeError) as err:
        parse(database, root)
    assert (err.value.path, err.value.row) == (str(sheet), second)
    assert (
        f"names clip {truth[0].subject}/{truth[0].clip} a second time (first in row {first})"
        in (err.value.message)
    )


@pytest.mark.parametrize("content", [b"", b"PK\x03\x04 not really a workbook"])
def test_damaged_workbook_names_the_file(casme2_copy, content):
    root, _ = casme2_copy
    (root / SHEET_2014).write_bytes(content)
    with pytest.raises(MepipeError, match="cannot read spreadsheet") as err:
        parse("casme2", root)
    assert err.value.path == str(root / SHEET_2014)


def _sheet_row_of(records: list[ClipRecord], clip: DemoClip) -> int:
    key = clip_key(clip.database, clip.subject, clip.clip)
    return int(next(r for r in records if r.key == key).extra["row"])


@pytest.mark.parametrize("database", ["casme2", "samm"])
@pytest.mark.parametrize(
    "cell", ["../{other}", "../../../../etc", "/etc", "..", ".", "{clip}/../{clip}", "a\\b"]
)
def test_clip_cell_leading_outside_its_subject_folder_rejects_the_clip(request, database, cell):
    # `../sub02/EP03_14f` stored sub02's frames under sub01's id; `../../../../etc` listed
    # /etc (issue 8, item 6)
    root, truth = request.getfixturevalue(f"{database}_copy")
    sheet = root / SHEET_OF[database]
    clip = truth[0]
    other = next(t for t in truth if t.subject != clip.subject)
    value = cell.format(other=f"{other.subject}/{other.clip}", clip=clip.clip)
    row = _sheet_row_of(parse(database, root)[0], clip)
    set_cell(sheet, row, "Filename", value)
    records, _ = parse(database, root)
    rejected = {r.clip: r for r in records if r.reject_reason}
    assert list(rejected) == [value]
    record = rejected[value]
    assert record.subject == clip.subject and record.source.numbers == ()
    assert record.reject_reason.startswith(f"clip name '{value}' is not a plain file or folder")
    assert record.reject_reason.endswith(
        f"it must name a folder inside {root}/"
        + (f"SAMM/{clip.subject}" if database == "samm" else f"CASME2_RAW_selected/{clip.subject}")
    )
    assert all(Path(p).is_relative_to(root) for r in records for p in r.source.paths)


# --- CASME II: per-clip rejections, the rest continues ------------------------------------


def _mutated(root: Path, truth: list[DemoClip], index: int) -> tuple[DemoClip, Path, int]:
    """The truth of clip `index`, its folder and its sheet row."""
    clip = truth[index]
    return clip, root / "CASME2_RAW_selected" / clip.subject / clip.clip, int(clip.extra["row"])


def _only_rejected(records: list[ClipRecord], key: str) -> str:
    rejected = {r.key: r.reject_reason for r in records if r.reject_reason}
    assert list(rejected) == [key]
    return rejected[key]


def test_casme2_clip_folder_missing(casme2_copy):
    root, truth = casme2_copy
    clip, folder, _ = _mutated(root, truth, 1)
    shutil.rmtree(folder)
    records, _ = parse("casme2", root)
    reason = _only_rejected(records, clip_key("casme2", clip.subject, clip.clip))
    assert f"clip folder {clip.subject}/{clip.clip} is missing" in reason and str(folder) in reason
    assert len(records) == len(truth)


@pytest.mark.parametrize("which", ["onset", "apex"])
def test_casme2_onset_or_apex_frame_missing(casme2_copy, which):
    root, truth = casme2_copy
    clip, folder, _ = _mutated(root, truth, 2)
    number = getattr(clip, which)
    (folder / f"img{number}.jpg").unlink()
    records, _ = parse("casme2", root)
    reason = _only_rejected(records, clip_key("casme2", clip.subject, clip.clip))
    assert f"{which} frame {number} is missing on disk" in reason
    assert str(folder / f"img{number}.jpg") in reason


def test_casme2_missing_offset_frames_clamp_the_offset(casme2_copy):
    """sub16/EP01_08: annotated to 110, frames on disk stop at 96."""
    root, truth = casme2_copy
    clip, folder, _ = _mutated(root, truth, 6)
    assert clip.offset - 2 > clip.apex  # the demo clip leaves room to cut its end
    for number in (clip.offset, clip.offset - 1):
        (folder / f"img{number}.jpg").unlink()
    records, _ = parse("casme2", root)
    record = by_key(records)[clip_key("casme2", clip.subject, clip.clip)]
    assert record.reject_reason is None and record.apex == clip.apex
    assert record.offset == clip.offset - 2
    assert record.flag == (
        f"offset frame {clip.offset} is past the frames on disk: clamped to the last frame "
        f"on disk ({clip.offset - 2})"
    )


# --- CASME II and SAMM: holes in the apex and offset cells are flagged, not rejected ------


@pytest.mark.parametrize(
    ("database", "sheet"),
    [("casme2", "2014"), ("casme2", "updated"), ("casme2", "xls"), ("samm", "preamble"),
     ("samm", "single")],
)  # fmt: skip
def test_sheet_holes_are_flagged_not_rejected(tmp_path, database, sheet):
    """Every hole of SHEET_HOLES, in every sheet copy: no clip is rejected; the offset is
    clamped back to the frames, an unusable apex is left to be estimated (ApexSource.ESTIMATED,
    filled in at ingest: tests/test_apex.py), and the flag says what was wrong."""
    writer = write_casme2 if database == "casme2" else write_samm
    truth = writer(tmp_path, sheet=sheet, holes=True, **SMALL)
    assert {t.hole for t in truth} == {*SHEET_HOLES, None}
    records, _ = parse(database, tmp_path)
    assert_matches_truth(records, truth)
    for t in truth:
        record = by_key(records)[clip_key(database, t.subject, t.clip)]
        if t.hole:
            # The flag names the cell's column as the sheet writes it.
            column = "ApexFrame" if database == "casme2" else "Apex"
            if t.hole in ("apex empty", "apex /"):
                assert f"the {column}" in record.flag
            estimated = t.hole.startswith("apex")
            assert record.apex_source == (
                ApexSource.ESTIMATED if estimated else ApexSource.ANNOTATED
            )


def test_casme2_named_quirk_clips_are_in_the_holes_sheet(tmp_path):
    """sub04/EP12_01f ('/') and sub05/EP09_05f (apex == onset), as every copy has them."""
    truth = write_casme2(tmp_path, holes=True, **SMALL)
    quirks = {(t.subject, t.clip): t.hole for t in truth[-len(CASME2_QUIRK_CLIPS) :]}
    assert quirks == {("sub04", "EP12_01f"): "apex /", ("sub05", "EP09_05f"): "apex at onset"}
    records = by_key(parse("casme2", tmp_path)[0])
    slash = records["casme2__sub04__EP12_01f"]
    assert slash.flag == "no apex annotated (the ApexFrame cell is '/')"
    onset = records["casme2__sub05__EP09_05f"]
    assert onset.flag == f"apex frame {onset.onset} is the onset frame"
    assert all(r.apex is None and r.reject_reason is None for r in (slash, onset))


# --- SAMM --------------------------------------------------------------------------------


@pytest.mark.parametrize("sheet", ["preamble", "single"])
@pytest.mark.parametrize("subject_cells", ["int", "text"])
def test_samm_variants_parse_to_truth(tmp_path, sheet, subject_cells):
    truth = write_samm(tmp_path, sheet=sheet, subject_cells=subject_cells, **SMALL)
    records, result = parse("samm", tmp_path)
    assert_matches_truth(records, truth)
    assert {t.label for t in truth} == set(database_info("samm")["labels"])
    assert result.notes == []


def test_samm_preamble_and_single_header_give_identical_records(tmp_path):
    preamble = write_samm(tmp_path / "a", sheet="preamble", **SMALL)
    single = write_samm(tmp_path / "b", sheet="single", subject_cells="text", **SMALL)
    assert [dataclasses.replace(t, extra={}) for t in preamble] == [
        dataclasses.replace(t, extra={}) for t in single
    ]
    a = relative(parse("samm", tmp_path / "a")[0], tmp_path / "a")
    b = relative(parse("samm", tmp_path / "b")[0], tmp_path / "b")
    assert [r.extra["row"] for r in a] == [str(14 + i) for i in range(1, len(a) + 1)]
    assert [r.extra["row"] for r in b] == [str(i) for i in range(2, len(b) + 2)]
    strip = [dataclasses.replace(r, extra={}) for r in a]
    assert strip == [dataclasses.replace(r, extra={}) for r in b]


def test_samm_other_and_others_both_become_others(tmp_path):
    write_samm(tmp_path / "a", sheet="preamble", **SMALL)
    write_samm(tmp_path / "b", sheet="single", **SMALL)
    sheet_a = openpyxl.load_workbook(tmp_path / "a/SAMM_Micro_FACS_Codes_v2.xlsx").active
    sheet_b = openpyxl.load_workbook(tmp_path / "b/SAMM_20181215_Micro_FACS_Codes_v2.xlsx").active
    assert "Other" in [c.value for c in sheet_a["J"]] and "Others" in [
        c.value for c in sheet_b["J"]
    ]
    for name in ("a", "b"):
        assert "others" in {r.label for r in parse("samm", tmp_path / name)[0]}


def test_samm_stray_files_are_listed(samm_release):
    root, truth = samm_release
    _, result = parse("samm", root)
    frames = root / "SAMM"
    assert sorted(result.stray_files) == sorted(
        str(p)
        for p in (
            frames / ".DS_Store",
            frames / "006" / "Thumbs.db",
            frames / "006" / truth[0].clip / "Desktop - Shortcut.lnk",
        )
    )


def test_samm_onset_frame_missing_names_the_padded_file(samm_copy):
    root, truth = samm_copy
    clip = truth[3]
    expected = root / "SAMM" / clip.subject / clip.clip / f"{clip.subject}_{clip.onset:05d}.jpg"
    expected.unlink()
    records, _ = parse("samm", root)
    reason = _only_rejected(records, clip_key("samm", clip.subject, clip.clip))
    assert f"onset frame {clip.onset} is missing on disk (expected {expected})" == reason


# --- SMIC --------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("subsets", "cropped"), [(("HS",), False), (("HS", "VIS", "NIR"), False), (("VIS",), True)]
)
def test_smic_variants_parse_to_truth(tmp_path, subsets, cropped):
    truth = write_smic(tmp_path, subsets=subsets, cropped=cropped, **SMALL)
    records, result = parse(
        "smic", tmp_path, variant="cropped" if cropped else "raw", subsets=subsets
    )
    assert_matches_truth(records, truth)
    assert {t.label for t in truth} == set(database_info("smic")["labels"])
    assert f"skipped {2 * len(subsets)} non_micro folders (not micro-expressions)" in result.notes
    assert all(Path(p).name.startswith("reg_") == cropped for r in records for p in r.source.paths)


def test_smic_clip_ids_and_fps_per_subset(smic_release):
    root, _ = smic_release
    records, result = parse("smic", root)
    clips = {r.extra["subset"]: r for r in records if r.subject == "s1" and "ne_01" in r.clip}
    assert {s: r.clip for s, r in clips.items()} == {
        "HS": "s1_ne_01",
        "VIS": "VIS-s1_ne_01",
        "NIR": "NIR-s1_ne_01",
    }
    assert {s: r.fps for s, r in clips.items()} == {"HS": 100.0, "VIS": 25.0, "NIR": 25.0}
    assert Path(clips["HS"].source.paths[0]).name == f"image{clips['HS'].onset:06d}.bmp"
    assert Path(clips["VIS"].source.paths[0]).name == f"{clips['VIS'].onset:05d}.bmp"
    assert "skipped 6 non_micro folders (not micro-expressions)" in result.notes
    assert not any("non_micro" in p for r in records for p in r.source.paths)


def test_smic_subsets_option_reads_only_those(smic_release):
    root, truth = smic_release
    records, _ = parse("smic", root, subsets=("HS",))
    assert_matches_truth(records, [t for t in truth if t.extra["subset"] == "HS"])


def test_smic_padded_subject_folders_give_the_same_records(smic_copy, smic_release):
    """Some copies (and the MEGC list) write s01 and s01_ne_01: both become s1, s1_ne_01."""
    root, truth = smic_copy
    hs = root / "SMIC_all_raw" / "HS"
    for subject in list(hs.iterdir()):
        if subject.is_dir():
            for clip in subject.glob("micro/*/*"):
                clip.rename(clip.parent / clip.name.replace(subject.name, "s0" + subject.name[1:]))
            subject.rename(hs / ("s0" + subject.name[1:]))
    assert (hs / "s01" / "micro" / "negative" / "s01_ne_01").is_dir()
    records, _ = parse("smic", root, subsets=("HS",))
    assert_matches_truth(records, [t for t in truth if t.extra["subset"] == "HS"])


def test_smic_variant_falls_back_with_a_note(smic_release):
    root, truth = smic_release
    records, result = parse("smic", root, variant="cropped")
    assert_matches_truth(records, truth)
    assert any("no cropped SMIC frames" in n for n in result.notes)


def test_smic_stray_files_are_listed(smic_release):
    root, _ = smic_release
    _, result = parse("smic", root)
    names = {Path(p).name for p in result.stray_files}
    assert names == {".DS_Store", "Thumbs.db", "Desktop - Shortcut.lnk"}
    assert len(result.stray_files) == 9  # three per subset


def test_smic_apex_midpoint_snaps_to_a_frame_on_disk(smic_copy):
    root, truth = smic_copy
    clip = truth[0]
    folder = root / "SMIC_all_raw" / "HS" / clip.subject / "micro" / clip.label / clip.clip
    (folder / f"image{clip.apex:06d}.bmp").unlink()
    record = by_key(parse("smic", root)[0])[clip_key("smic", clip.subject, clip.clip)]
    assert record.apex == clip.apex - 1 and record.apex_source == ApexSource.MIDPOINT
    assert record.reject_reason is None


def test_midpoint_apex_rule():
    assert midpoint_apex((10, 11, 12, 13, 14)) == 12
    assert midpoint_apex((10, 11, 12, 13)) == 11
    assert midpoint_apex((10, 11, 14, 15)) == 11  # middle 12 absent: nearest, lower on tie
    assert midpoint_apex((10,)) == 10


def test_smic_names_normalise_both_ways():
    assert smic_subject("s01") == smic_subject("s1") == "s1"
    assert smic_subject("s20") == "s20"
    assert smic_clip("s01_ne_01") == smic_clip("s1_ne_01") == "s1_ne_01"
    assert smic_clip("s10_sur_02") == "s10_sur_02"


def test_smic_empty_clip_folder_is_rejected(smic_copy):
    root, truth = smic_copy
    clip = truth[1]
    folder = root / "SMIC_all_raw" / "HS" / clip.subject / "micro" / clip.label / clip.clip
    for frame in folder.iterdir():
        frame.unlink()
    records, _ = parse("smic", root)
    reason = _only_rejected(records, clip_key("smic", clip.subject, clip.clip))
    assert reason == f"clip folder {folder} holds no frames"


def test_smic_unreadable_first_frame_is_rejected(smic_copy):
    root, truth = smic_copy
    clip = truth[2]
    folder = root / "SMIC_all_raw" / "HS" / clip.subject / "micro" / clip.label / clip.clip
    (folder / f"image{clip.onset:06d}.bmp").write_bytes(b"BMnot really")
    records, _ = parse("smic", root)
    reason = _only_rejected(records, clip_key("smic", clip.subject, clip.clip))
    assert "first frame cannot be read" in reason and f"image{clip.onset:06d}.bmp" in reason


def test_smic_unknown_emotion_folder_is_fatal(smic_copy):
    root, _ = smic_copy
    bad = root / "SMIC_all_raw" / "HS" / "s1" / "micro" / "happy"
    (bad / "s1_ha_01").mkdir(parents=True)
    with pytest.raises(MepipeError, match="unknown emotion label 'happy'") as err:
        parse("smic", root)
    assert err.value.path == str(bad)


# --- which release is this? -------------------------------------------------------------


def test_looks_like_tells_the_releases_apart(casme2_release, samm_release, smic_release):
    roots = {"casme2": casme2_release[0], "samm": samm_release[0], "smic": smic_release[0]}
    for name, root in roots.items():
        assert {n for n in MICRO if ADAPTERS[n].looks_like(root)} == {name}
    assert not any(cls.looks_like(roots["casme2"] / "missing") for cls in ADAPTERS.values())


def test_open_release_names_the_release_it_found(samm_release):
    root, _ = samm_release
    with pytest.raises(
        MepipeError, match="does not look like a CASME II release; it looks like SAMM"
    ):
        open_release("casme2", root)


def test_adapters_are_registered():
    assert ADAPTERS["casme2"] is Casme2Adapter
    assert ADAPTERS["smic"] is SmicAdapter
    assert ADAPTERS["samm"] is SammAdapter
