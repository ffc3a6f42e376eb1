"""`mepipe check-protocol` on small reference lists in the MEGC 2019 format."""

from __future__ import annotations

from dataclasses import replace

import pytest
from click.testing import CliRunner
from protocol_manifests import CASME2, SMIC, clip, write_manifest

from mepipe.check_protocol import compare, read_reference
from mepipe.cli import main
from mepipe.protocols import load_scheme

# The user's cde set in the official list's spellings: SAMM `6`, SMIC `s01` / `s01_ne_01`.
OFFICIAL = """\
casme2,sub01,EP02_01f,1
casme2,sub01,EP19_05f,0
casme2,sub02,EP01_11f,2
casme2,sub02,EP02_04f,0
smic,s01,s01_ne_01,0
smic,s01,s01_po_02,1
smic,s03,s03_sur_01,2
samm,6,006_1_2,0
samm,7,007_2_1,1
"""


@pytest.fixture
def data(tmp_path):
    data = tmp_path / "data"
    # sub05/EP09_05f: usable (its apex estimated, flagged) but excluded by name in cde.toml.
    excluded = clip("sub05", "EP09_05f", "disgust", status="flagged")
    write_manifest(data, "casme2", [*CASME2, excluded])
    write_manifest(data, "smic", SMIC)
    samm = [clip("006", "006_1_2", "anger"), clip("006", "006_1_3", "others")]
    write_manifest(data, "samm", [*samm, clip("007", "007_2_1", "happiness")])
    return data


def check(data, tmp_path, text: str):
    reference = tmp_path / "megc.csv"
    reference.write_text(text)
    args = ["check-protocol", "--data", str(data), "--reference", str(reference)]
    return reference, CliRunner().invoke(main, args, env={"COLUMNS": "200"})


def row_of(output: str, key: str) -> list[str]:
    line = next(line for line in output.splitlines() if f" {key} " in line)
    return [c.strip() for c in line.split("│")[1:-1]]


def test_identical_list_exits_0(data, tmp_path):
    _, result = check(data, tmp_path, OFFICIAL)
    assert result.exit_code == 0, result.output
    assert "all 9 clips match megc.csv" in result.output


def test_other_spellings_and_blank_lines_are_accepted(data, tmp_path):
    text = (
        OFFICIAL.replace("casme2,sub01,", "casme2,1,")
        .replace("samm,6,", "samm,006,")
        .replace("smic,s03,s03_sur_01", "SMIC, s3 , s3_sur_01")
    )
    _, result = check(data, tmp_path, "\ufeff" + text + "\n\n")
    assert result.exit_code == 0, result.output


def test_missing_extra_and_mislabelled_are_listed(data, tmp_path):
    text = (
        OFFICIAL.replace("smic,s03,s03_sur_01,2\n", "").replace(  # the user's clip is extra
            "casme2,sub01,EP02_01f,1", "casme2,sub01,EP02_01f,2"
        )
        + "casme2,sub02,EP08_04,0\n"  # rejected at ingest
        + "casme2,sub04,EP12_01f,0\n"  # excluded by cde.toml
        + "casme2,sub05,EP09_05f,0\n"  # excluded by cde.toml
        + "samm,8,008_1_1,0\n"  # not in the release at all
    )
    _, result = check(data, tmp_path, text)
    assert result.exit_code == 1, result.output
    out = result.output
    assert row_of(out, "smic__s3__s3_sur_01") == [
        "extra",
        "smic__s3__s3_sur_01",
        "",
        "surprise",
        "",
    ]
    assert row_of(out, "casme2__sub01__EP02_01f") == [
        "mislabelled",
        "casme2__sub01__EP02_01f",
        "surprise",
        "positive",
        "",
    ]
    assert row_of(out, "casme2__sub02__EP08_04") == [
        "missing",
        "casme2__sub02__EP08_04",
        "negative",
        "",
        "rejected: frame missing on disk",
    ]
    for key in ("casme2__sub04__EP12_01f", "casme2__sub05__EP09_05f"):
        assert row_of(out, key)[4].startswith("excluded: not in the official MEGC 2019 list")
    assert row_of(out, "samm__008__008_1_1")[4] == "not in the manifest"
    assert "6 differences" in out
    assert "4 missing, 1 extra, 1 mislabelled" in out
    assert "casme2__sub02__EP02_04f" not in out  # matching clips are not listed


# The 441-row version of the official list (combined_3class_gt-2.csv) lacks this clip.
KNOWN_GAP = "samm__032__032_3_1"


@pytest.fixture
def full_size(data) -> tuple:
    """A set of 442 clips, as the complete composite set has, and the 441-row list of them
    that lacks SAMM 032_3_1: (data folder, list text)."""
    filler = [clip(f"{100 + i // 8}", f"{100 + i // 8}_1_{i % 8}", "anger") for i in range(432)]
    samm = [clip("006", "006_1_2", "anger"), clip("007", "007_2_1", "happiness")]
    write_manifest(data, "samm", [*samm, *filler, clip("032", "032_3_1", "anger")])
    rows = OFFICIAL + "".join(f"samm,{c['subject']},{c['clip']},0\n" for c in filler)
    assert len(rows.splitlines()) == 441
    return data, rows


def test_clip_the_441_row_list_lacks_is_named_as_its_known_gap(full_size, tmp_path):
    data, rows = full_size
    _, result = check(data, tmp_path, rows)
    assert result.exit_code == 0, result.output
    out = " ".join(result.output.split())
    assert "all 441 clips match megc.csv" in out
    assert (
        f"{KNOWN_GAP} (negative) is not in it, a known gap of the 441-row "
        "combined_3class_gt-2.csv: that version of the list lacks it" in out
    )
    assert "extra" not in out
    # The complete list (like the 442-row file) matches without a word about gaps.
    _, result = check(data, tmp_path, rows + "samm,32,032_3_1,0\n")
    assert result.exit_code == 0, result.output
    assert "all 442 clips match megc.csv" in result.output
    assert "known gap" not in result.output


def test_known_gap_among_other_differences_is_listed_apart(full_size, tmp_path):
    data, rows = full_size
    _, result = check(
        data, tmp_path, rows.replace("smic,s03,s03_sur_01,2", "smic,s03,s03_sur_01,0")
    )
    assert result.exit_code == 1
    row = row_of(result.output, KNOWN_GAP)
    assert row[:4] == ["known gap", KNOWN_GAP, "", "negative"]
    assert row[4].startswith("a known gap of the 441-row combined_3class_gt-2.csv")
    assert row_of(result.output, "smic__s3__s3_sur_01")[0] == "mislabelled"
    assert "0 missing, 0 extra, 1 mislabelled, 1 known gap" in result.output


def test_a_list_of_another_length_lacking_the_clip_has_it_as_extra(full_size, tmp_path):
    data, rows = full_size
    _, result = check(data, tmp_path, rows.replace("samm,6,006_1_2,0\n", ""))  # 440 rows
    assert result.exit_code == 1
    assert row_of(result.output, KNOWN_GAP)[0] == "extra"
    assert "0 missing, 2 extra, 0 mislabelled" in result.output


def test_known_gaps_are_data_of_the_scheme_file(full_size, tmp_path):
    data, rows = full_size
    cde = load_scheme("cde")
    assert [(g.database, g.subject, g.clip, g.rows) for g in cde.known_gaps] == [
        ("samm", "032", "032_3_1", 441)
    ]
    reference = tmp_path / "megc.csv"
    reference.write_text(rows)
    without = replace(cde, known_gaps=())  # a scheme file with no [[known_gaps]] table
    differences = compare(data, read_reference(reference, without), without)
    assert [(d.kind, d.key) for d in differences] == [("extra", KNOWN_GAP)]


def test_database_not_ingested_is_named(tmp_path):
    write_manifest(tmp_path / "data", "casme2", CASME2)
    casme2_only = "".join(line + "\n" for line in OFFICIAL.splitlines() if "casme2" in line)
    _, result = check(tmp_path / "data", tmp_path, casme2_only + "smic,s01,s01_ne_01,0\n")
    assert result.exit_code == 1
    assert row_of(result.output, "smic__s1__s1_ne_01")[4] == "smic not ingested"
    assert "1 missing, 0 extra, 0 mislabelled" in result.output


@pytest.mark.parametrize(
    ("bad_row", "message"),
    [
        ("casme2,sub01,EP03_02", "expected 4 fields (database, subject, clip, class), found 3"),
        ("casme2,sub01,EP03_02,3", "class '3' is not 0..2 (negative, positive, surprise)"),
        ("casme2,sub01,EP03_02,neg", "class 'neg' is not 0..2"),
        ("mmi,S050,S050-003,0", "database 'mmi' is not one of smic, casme2, samm"),
        ("samm,six,006_1_2,0", "subject 'six' has no number"),
        ("smic,s01,ne_01,0", "SMIC clip 'ne_01' is not of the form s01_ne_01"),
        ("smic,s1,s1_ne_01,0", "clip listed twice (first at row 5)"),
    ],
)
def test_malformed_row_names_file_and_row(data, tmp_path, bad_row, message):
    lines = OFFICIAL.splitlines()
    lines.insert(6, bad_row)  # becomes row 7
    reference, result = check(data, tmp_path, "\n".join(lines) + "\n")
    assert result.exit_code == 1
    assert f"Error: {reference}, row 7: {message}" in result.output
    assert "Traceback" not in result.output


def test_empty_and_unreadable_reference(data, tmp_path):
    reference, result = check(data, tmp_path, "\n")
    assert result.exit_code == 1
    assert f"Error: {reference}: the reference list is empty" in result.output
    reference.write_bytes(b"\xff\xfe\x00bad")
    args = ["check-protocol", "--data", str(data), "--reference", str(reference)]
    result = CliRunner().invoke(main, args)
    assert result.exit_code == 1
    assert f"Error: {reference}: cannot read the reference list" in result.output
