"""`mepipe show`: the contact sheet shows the shards' aligned frames, one row per clip."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest
from align_helpers import small_release
from click.testing import CliRunner
from PIL import Image

from mepipe.atomic import write_parquet
from mepipe.cli import main
from mepipe.contract.sample import iter_samples
from mepipe.shards import ShardOptions, write_shards
from mepipe.sheet import CAPTION_WIDTH, GAP, TILE


@pytest.fixture(scope="module")
def data(tmp_path_factory) -> Path:
    root = tmp_path_factory.mktemp("sheet")
    release = small_release(root / "raw", subjects=2, clips=2)
    db = root / "data" / "casme2"
    write_parquet(db / "manifest.parquet", write_shards(db, release, ShardOptions(size=96), 1))
    return root / "data"


def _show(data: Path, out: Path, *extra: str):
    args = ["show", "--data", str(data), "--db", "casme2", "--out", str(out), *extra]
    return CliRunner().invoke(main, args)


def test_sheet_holds_the_aligned_frames_of_every_clip(data, tmp_path):
    out = tmp_path / "sheet.png"
    result = _show(data, out)
    assert result.exit_code == 0, result.output
    sheet = np.asarray(Image.open(out).convert("RGB"))
    header = 22
    assert sheet.shape[0] == header + 4 * (TILE + GAP)  # four clips
    assert sheet.shape[1] == CAPTION_WIDTH + 6 * (TILE + GAP)
    # the tile of clip 2's apex frame (e2) is that sample's member, enlarged
    sample = list(iter_samples(data / "casme2" / "shards" / "sub01-000000.tar"))[1]
    expected = Image.fromarray(sample.image("e2")).resize((TILE, TILE), Image.Resampling.BILINEAR)
    x, y = CAPTION_WIDTH + 3 * (TILE + GAP), header + 1 * (TILE + GAP)
    tile = sheet[y : y + TILE, x : x + TILE].astype(int)
    assert np.abs(tile - np.asarray(expected, int)).max() <= 1
    # captions are drawn (dark text pixels in the caption column)
    assert (sheet[header : header + 40, :CAPTION_WIDTH] < 100).any()


def test_landmarks_add_the_raw_frame_with_points(data, tmp_path):
    plain, marked = tmp_path / "plain.png", tmp_path / "marked.png"
    assert _show(data, plain, "--limit", "2").exit_code == 0
    result = _show(data, marked, "--limit", "2", "--landmarks")
    assert result.exit_code == 0, result.output
    a, b = Image.open(plain), Image.open(marked)
    assert a.height == b.height == 22 + 2 * (TILE + GAP)
    raw_width = round(240 * TILE / 180) + GAP  # demo frames are 240x180
    assert b.width == a.width + raw_width
    raw = np.asarray(b.convert("RGB"))[22 : 22 + TILE, CAPTION_WIDTH : CAPTION_WIDTH + raw_width]
    green = (raw[..., 1] > 200) & (raw[..., 0] < 60) & (raw[..., 2] > 60) & (raw[..., 2] < 140)
    assert green.sum() > 10  # the eye markers (#00ff66) are drawn on the raw frame


def test_unknown_key_and_database_are_clear_errors(data, tmp_path):
    result = _show(data, tmp_path / "x.png", "--key", "casme2__nobody__EP00")
    assert (
        result.exit_code == 1 and "no aligned clip with key casme2__nobody__EP00" in result.output
    )
    args = ["show", "--data", str(data), "--db", "samm", "--out", str(tmp_path / "y.png")]
    result = CliRunner().invoke(main, args)
    assert result.exit_code == 1 and "no manifest.parquet for database 'samm'" in result.output
