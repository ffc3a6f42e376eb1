"""`mepipe stats`: Table 1 numbers on hand-made manifests."""

from __future__ import annotations

import json

from click.testing import CliRunner
from protocol_manifests import CASME2, clip, write_all, write_manifest

from mepipe.cli import main
from mepipe.stats import protocol_stats


def cells(line: str, bar: str = "│") -> list[str]:
    """The stripped cells of one rich table line (after the database column)."""
    return [c.strip() for c in line.split(bar)[2:-1]]


def run(*args: str):
    return CliRunner().invoke(main, list(args), env={"COLUMNS": "200"})


def test_counts_per_database_and_total(tmp_path):
    write_all(tmp_path)
    stats = protocol_stats(tmp_path, "cde").to_json()
    rows = {r["name"]: r for r in stats["databases"]}
    assert [r["name"] for r in stats["databases"]] == ["smic", "casme2", "samm"]
    # casme2: flagged disgust counts, rejected disgust and excluded sub04 do not.
    assert rows["casme2"]["subjects"] == 2
    assert rows["casme2"]["classes"] == {"negative": 2, "positive": 1, "surprise": 1}
    assert rows["smic"]["subjects"] == 2  # s2 holds only a VIS clip
    assert rows["smic"]["classes"] == {"negative": 1, "positive": 1, "surprise": 1}
    assert rows["samm"]["classes"] == {"negative": 1, "positive": 1, "surprise": 0}
    total = stats["total"]
    assert total["subjects"] == 6  # samm/s1 and smic/s1 are two subjects
    assert total["classes"] == {"negative": 4, "positive": 3, "surprise": 2}
    assert total["clips"] == 9
    # The protocol file's numbers for complete releases ride along.
    assert rows["casme2"]["expected"] == {
        "negative": 88,
        "positive": 32,
        "surprise": 25,
        "subjects": 24,
    }
    assert total["expected"] == {"subjects": 68, "negative": 250, "positive": 109, "surprise": 83}


def test_cli_prints_table_with_expected_and_writes_json(tmp_path):
    write_all(tmp_path / "data")
    out = tmp_path / "t1.json"
    result = run("stats", "--data", str(tmp_path / "data"), "--protocol", "cde", "--json", str(out))
    assert result.exit_code == 0, result.output
    lines = {line.split()[1]: line for line in result.output.splitlines() if line[:1] == "│"}
    assert cells(lines["casme2"]) == ["2 (24)", "2 (88)", "1 (32)", "1 (25)", "4 (145)"]
    assert "9 (442)" in lines["total"]
    assert json.loads(out.read_text()) == protocol_stats(tmp_path / "data", "cde").to_json()


def test_single_database_scheme_has_no_expected_counts(tmp_path):
    write_manifest(tmp_path, "casme2", CASME2)
    result = run("stats", "--data", str(tmp_path), "--protocol", "casme2_5class")
    assert result.exit_code == 0, result.output
    header = next(line for line in result.output.splitlines() if "subjects" in line)
    assert cells(header, "┃") == [
        "subjects",
        "happiness",
        "surprise",
        "disgust",
        "repression",
        "others",
        "clips",
    ]
    casme2 = next(line for line in result.output.splitlines() if " casme2 " in line)
    # sub01..sub04; happiness 1, surprise 1, disgust 2 (flagged, sub04), repression 1, others 2
    assert cells(casme2) == ["4", "1", "1", "2", "1", "2", "7"]
    assert "(n)" not in result.output  # no expected counts, so no note about them


def test_missing_databases_are_named(tmp_path):
    write_manifest(tmp_path, "samm", [clip("006", "006_1_2", "anger")])
    result = run("stats", "--data", str(tmp_path))
    assert result.exit_code == 0, result.output
    assert "not ingested: smic, casme2" in result.output
    smic = next(line for line in result.output.splitlines() if " smic " in line)
    assert "- (70)" in smic


def test_no_manifest_is_an_error(tmp_path):
    result = run("stats", "--data", str(tmp_path))
    assert result.exit_code == 1
    assert f"Error: {tmp_path}: no manifest found for smic, casme2, samm" in result.output
