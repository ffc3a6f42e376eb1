"""Text from a release's files reaches the terminal escaped, never as control sequences or
rich markup (issue 8, item 13)."""

from __future__ import annotations

import json
from pathlib import Path

import openpyxl
from click.testing import CliRunner

from mepipe.cli import main
from mepipe.demo.macro import write_ckplus
from mepipe.demo.micro import write_casme2
from mepipe.untrusted import markup_safe, printable

CLEAR_SCREEN = "\x1b[2J"
TITLE = "\x1b]0;pwned\x07"  # sets the terminal window's title


def test_printable_escapes_controls_and_keeps_letters():
    assert printable(f"a{CLEAR_SCREEN}b") == "a\\x1b[2Jb"
    assert printable(TITLE) == "\\x1b]0;pwned\\x07"
    assert printable("line\nbreak\ttab\r") == "line\\nbreak\\ttab\\r"
    assert printable("\u202eevil.jpg \x85 \u2028") == "\\u202eevil.jpg \\x85 \\u2028"
    assert printable("données/中文/EP02_01f [bold]") == "données/中文/EP02_01f [bold]"
    assert printable(Path("/x/\udcff")) == "/x/\\udcff"  # an undecodable file name byte
    assert markup_safe(f"[bold]x[/bold]{CLEAR_SCREEN}") == "\\[bold]x\\[/bold]\\x1b[2J"


def test_emotion_file_escape_sequences_are_shown_escaped(tmp_path: Path):
    clips = write_ckplus(tmp_path, subjects=1, sequences_per_subject=2, size=(64, 48))
    clip = next(c for c in clips if c.label is not None)
    path = next(tmp_path.glob(f"Emotion/{clip.subject}/{clip.clip}/*_emotion.txt"))
    path.write_text(f"   {CLEAR_SCREEN}{TITLE}3.0000000e+00\n")
    args = ["ingest", "ckplus", str(tmp_path), "--out", str(tmp_path / "out"), "--no-align"]
    result = CliRunner().invoke(main, args, color=True)  # keep escapes as a terminal gets them
    assert result.exit_code == 1
    assert "\\x1b[2J\\x1b]0;pwned\\x07" in result.output and str(path) in result.output
    assert CLEAR_SCREEN not in result.output and "\x07" not in result.output


def test_release_text_in_the_ingest_summary_is_neither_markup_nor_control(tmp_path: Path):
    root = tmp_path / "CASME2"
    truth = write_casme2(root, subjects=1, clips_per_subject=2, size=(64, 48))
    sheet = next(root.glob("CASME2-coding-*.xlsx"))
    book = openpyxl.load_workbook(sheet)
    book.active.cell(row=2, column=2, value="[/bold][red]EP99")  # Filename: no such folder
    book.save(sheet)
    frames = next(root.rglob(truth[0].clip)).parent
    (frames / f"EP{CLEAR_SCREEN}77").mkdir()  # a clip folder the sheet does not name
    out = tmp_path / "out"
    args = ["ingest", "casme2", str(root), "--out", str(out), "--no-align"]
    result = CliRunner().invoke(main, args, color=True, env={"COLUMNS": "200"})
    assert result.exit_code == 0, result.exception
    assert "[/bold][red]EP99" in result.output  # shown as typed, not read as markup
    assert "sub01/EP\\x1b[2J77" in result.output and CLEAR_SCREEN not in result.output
    # the report keeps the text as it was, escaped only by JSON
    report = json.loads((out / "casme2" / "ingest_report.json").read_text())
    assert any(CLEAR_SCREEN in note for note in report["notes"])


def test_check_protocol_shows_a_reference_list_escaped(tmp_path: Path):
    from protocol_manifests import CASME2, write_manifest

    data = tmp_path / "data"
    write_manifest(data, "casme2", CASME2)
    reference = tmp_path / "megc.csv"
    reference.write_text(f"casme2,sub01,EP02_01f,1\ncasme2,sub01,[/bold]EP{CLEAR_SCREEN}9,0\n")
    args = ["check-protocol", "--data", str(data), "--reference", str(reference)]
    result = CliRunner().invoke(main, args, color=True, env={"COLUMNS": "200"})
    assert result.exit_code == 1, result.exception
    assert "casme2__sub01__[/bold]EP\\x1b[2J9" in result.output
    assert CLEAR_SCREEN not in result.output


def test_verify_shows_keys_from_the_data_escaped(tmp_path: Path):
    import pandas as pd

    db = tmp_path / "data" / "casme2"
    (db / "shards").mkdir(parents=True)
    key = f"casme2__sub01__EP{CLEAR_SCREEN}9"
    pd.DataFrame([{"key": key, "status": "ok", "shard": None}]).to_parquet(db / "manifest.parquet")
    index = {"format": 1, "database": "casme2", "options": {"size": 48, "format": "jpg"}}
    (db / "shards" / "index.json").write_text(json.dumps({**index, "shards": []}))
    args = ["verify", "--data", str(tmp_path / "data")]
    result = CliRunner().invoke(main, args, color=True)
    assert result.exit_code == 1
    assert "(casme2__sub01__EP\\x1b[2J9): status ok but no shard" in result.output
    assert CLEAR_SCREEN not in result.output
