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
from mepipe.flow import FlowOptions
from mepipe.motion_view import amplified_difference, colour_key, flow_colours, flow_scale
from mepipe.shards import ShardOptions, write_shards
from mepipe.sheet import CAPTION_WIDTH, GAP, KEY_HEIGHT, TILE


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
    # six frames and the amplified difference (no flow in these shards: no flow column)
    assert sheet.shape[1] == CAPTION_WIDTH + 7 * (TILE + GAP)
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


@pytest.fixture(scope="module")
def flow_data(tmp_path_factory) -> Path:
    root = tmp_path_factory.mktemp("sheet_flow")
    release = small_release(root / "raw", subjects=1, clips=2)
    db = root / "data" / "casme2"
    options = ShardOptions(size=48, optical_flow=FlowOptions(flow="tvl1"))
    write_parquet(db / "manifest.parquet", write_shards(db, release, options, 1))
    return root / "data"


def test_motion_columns_show_the_difference_and_the_flow_with_a_key(flow_data, tmp_path):
    out, plain = tmp_path / "motion.png", tmp_path / "plain.png"
    assert _show(flow_data, out).exit_code == 0
    assert _show(flow_data, plain, "--no-motion").exit_code == 0
    sheet = np.asarray(Image.open(out).convert("RGB"))
    header = 22
    assert sheet.shape[1] == CAPTION_WIDTH + 8 * (TILE + GAP)
    assert sheet.shape[0] == header + 2 * (TILE + GAP) + KEY_HEIGHT
    assert Image.open(plain).size == (CAPTION_WIDTH + 6 * (TILE + GAP), header + 2 * (TILE + GAP))
    # the flow tile of clip 1 is its flow member in colours, at the sheet's scale
    samples = list(iter_samples(flow_data / "casme2" / "shards" / "sub01-000000.tar"))
    scale = flow_scale([s.array("magnitude") for s in samples])
    expected = Image.fromarray(flow_colours(samples[0].array("flow"), scale))
    expected = np.asarray(expected.resize((TILE, TILE), Image.Resampling.BILINEAR), int)
    x = CAPTION_WIDTH + 7 * (TILE + GAP)
    assert np.abs(sheet[header : header + TILE, x : x + TILE].astype(int) - expected).max() <= 1
    assert (expected.min(axis=2) < 200).any()  # the demo motion is coloured, not white
    # the key is drawn under the rows
    key = sheet[header + 2 * (TILE + GAP) + 4 :, CAPTION_WIDTH : CAPTION_WIDTH + TILE]
    assert np.abs(key[:TILE].astype(int) - colour_key(TILE, scale)).max() <= 1


def test_motion_pictures_follow_their_documented_conventions():
    still = np.full((8, 8, 3), 100, np.uint8)
    brighter = still + 10
    assert (amplified_difference(still, still) == 128).all()
    assert (amplified_difference(still, brighter) == 128 + 50).all()  # x5 gain
    flow = np.zeros((2, 4, 4), np.float32)
    assert (flow_colours(flow, 1.0) == 255).all()  # still is white
    flow[0] = 1.0  # to the right: saturated red
    assert flow_colours(flow, 1.0)[0, 0].tolist() == [255, 0, 0]
    flow[0], flow[1] = -1.0, 0.0  # to the left: cyan
    assert flow_colours(flow, 1.0)[0, 0].tolist() == [0, 255, 255]
    flow[0] = 0.5  # half the scale: half saturated
    assert np.abs(flow_colours(flow, 1.0)[0, 0].astype(int) - [255, 128, 128]).max() <= 1
    assert flow_scale([np.full((4, 4), 0.7)]) == 1.0 and flow_scale([np.full((4, 4), 3.0)]) == 5.0
