"""Clip keys: one per clip, never shared by two clips (issue 8, item 10)."""

from __future__ import annotations

import json
from pathlib import Path
from urllib.parse import unquote

import openpyxl
import pandas as pd
import pytest
from click.testing import CliRunner

from mepipe.cli import main
from mepipe.contract.sample import iter_samples
from mepipe.demo.micro import write_casme2
from mepipe.records import KEY_SEPARATOR, clip_key

# Clip names that a looser encoding would map onto one another.
TRICKY = [
    "EP01.9",
    "EP01-9",
    "EP01%2E9",
    "EP01%9",
    "EP01_9",
    "EP01__9",
    "EP01___9",
    "_EP01",
    "EP01_",
    "__",
    "",
    ".",
    "-",
]


def test_distinct_clips_get_distinct_keys_that_split_back():
    pairs = [(s, c) for s in ("sub01", "sub01_", "sub01__x", "x.y") for c in TRICKY]
    keys = [clip_key("casme2", s, c) for s, c in pairs]
    assert len(set(keys)) == len(keys)
    for (subject, clip), key in zip(pairs, keys, strict=True):
        assert "." not in key
        parts = key.split(KEY_SEPARATOR)
        assert [unquote(p) for p in parts] == ["casme2", subject, clip]


def test_names_of_the_real_releases_are_their_own_keys():
    assert clip_key("casme2", "sub01", "EP02_01f") == "casme2__sub01__EP02_01f"
    assert clip_key("samm", "006", "006_1_2") == "samm__006__006_1_2"
    assert clip_key("mmi", "S050", "S050-003") == "mmi__S050__S050-003"
    assert clip_key("casme2", "sub01", "EP01.9") == "casme2__sub01__EP01%2E9"


@pytest.fixture
def dotted_release(tmp_path: Path) -> Path:
    """A CASME II release whose sub01 clips are named `EP01.9` and `EP01-9`."""
    root = tmp_path / "CASME2"
    truth = write_casme2(root, subjects=1, clips_per_subject=2, size=(240, 180))
    frames = next(root.rglob("CASME2_RAW_selected")) / "sub01"
    sheet = next(root.glob("CASME2-coding-*.xlsx"))
    book = openpyxl.load_workbook(sheet)
    for clip, name in zip(truth, ("EP01.9", "EP01-9"), strict=True):
        (frames / clip.clip).rename(frames / name)
        book.active.cell(row=int(clip.extra["row"]), column=2, value=name)
    book.save(sheet)
    return root


@pytest.mark.parametrize("align", [False, True], ids=["no-align", "align"])
def test_clips_whose_names_differ_only_by_dot_and_dash_keep_both(dotted_release, tmp_path, align):
    out = tmp_path / "out"
    args = ["ingest", "casme2", str(dotted_release), "--out", str(out)]
    result = CliRunner().invoke(main, [*args] if align else [*args, "--no-align"])
    assert result.exit_code == 0, result.output
    manifest = pd.read_parquet(out / "casme2" / "manifest.parquet")
    assert sorted(manifest["key"]) == ["casme2__sub01__EP01%2E9", "casme2__sub01__EP01-9"]
    assert sorted(manifest["clip"]) == ["EP01-9", "EP01.9"]
    report = json.loads((out / "casme2" / "ingest_report.json").read_text())
    assert report["clips_accepted"] == 2, report["rejected"]
    if align:
        assert set(manifest["status"]) == {"ok"}, manifest["reason"].tolist()
        keys = [s.key for s in iter_samples(out / "casme2" / manifest["shard"].iloc[0])]
        assert sorted(keys) == sorted(manifest["key"])
        verify = CliRunner().invoke(main, ["verify", "--data", str(out)])
        assert verify.exit_code == 0, verify.output


# --- the clip status ---------------------------------------------------------------------


@pytest.mark.parametrize(
    ("before", "quality", "merged"),
    [
        ("ok", "ok", "ok"),
        ("ok", "flagged", "flagged"),
        ("flagged", "ok", "flagged"),
        ("flagged", "rejected", "rejected"),
        ("rejected", "flagged", "rejected"),
        (None, "flagged", "flagged"),  # a manifest row without a status counts as ok
    ],
)
def test_the_worse_status_stands(before, quality, merged):
    import pandas as pd

    from mepipe.contract.manifest import ClipStatus
    from mepipe.shards.index import ClipFacts
    from mepipe.shards.write import merged_status

    row = pd.Series({"status": before, "reason": "ingest said so"})
    status, reason = merged_status(row, ClipFacts(quality, ["quality said so"]))
    assert status == merged and isinstance(status, str)  # plain text in the manifest
    assert reason == "ingest said so; quality said so"
    assert ClipStatus.worst(before or "ok", quality) is ClipStatus(merged)


def test_an_unknown_status_is_refused():
    from mepipe.contract.manifest import ClipStatus

    with pytest.raises(ValueError, match="'fine' is not a valid ClipStatus"):
        ClipStatus.worst("ok", "fine")
