"""`mepipe predict` through the command line: outputs, given intervals, and bad input
(one Error line, exit 1, nothing written)."""

from __future__ import annotations

import json
import shutil
from pathlib import Path

import cv2
import numpy as np
import pandas as pd
import pytest
from cli_helpers import error_line
from click.testing import CliRunner

from mepipe.cli import main
from mepipe.contract.model import MODEL_CARD
from mepipe.demo.video import DEMO_EVENTS, demo_video_frames, write_video

ASSETS = Path(__file__).resolve().parent / "assets" / "real"


def predict(*args: object):
    return CliRunner().invoke(main, ["predict", *map(str, args)])


def test_spots_and_classifies_the_demo_video(demo_video: Path, tiny_model: Path, tmp_path):
    """With a model (found through its entry point): every output, one row per event."""
    out = tmp_path / "out"
    result = predict(demo_video, "--model", tiny_model, "--out", out, "--video-out")
    assert result.exit_code == 0, result.output
    table = pd.read_csv(out / "intervals.csv")
    assert list(table["kind"]) == ["micro", "macro"]
    classes = ("negative", "positive", "surprise")
    assert set(table["class"]) <= set(classes)
    probs = table[[f"prob_{c}" for c in classes]].to_numpy()
    assert np.allclose(probs.sum(1), 1, atol=1e-3)
    for row, event in zip(table.itertuples(), DEMO_EVENTS, strict=True):
        assert abs(row.apex_frame - event.apex) <= 2
        assert row.apex_s == pytest.approx(row.apex_frame / 30, abs=1e-3)
        assert row.score >= 1 and row.source == "spotted"
    summary = json.loads((out / "summary.json").read_text())
    assert summary["frames"] == 150 and summary["gaps"] == [] and summary["fps"] == 30
    assert summary["model"]["classifier"] == "mtmnet"
    assert (out / "timeline.png").stat().st_size > 10_000
    assert sorted(p.name for p in (out / "sheets").iterdir()) == [
        "interval-01.png",
        "interval-02.png",
    ]
    capture = cv2.VideoCapture(str(out / "annotated.mp4"))
    count = 0
    while capture.read()[0]:
        count += 1
    assert count == 150
    assert not list(tmp_path.glob(".out*"))  # no temporary folder left behind


def test_onset_offset_skip_spotting(demo_video: Path, tmp_path):
    out = tmp_path / "out"
    result = predict(demo_video, "--out", out, "--onset", 30, "--offset", 60)
    assert result.exit_code == 0, result.output
    (row,) = pd.read_csv(out / "intervals.csv", keep_default_na=False).itertuples()
    assert (row.onset_frame, row.offset_frame, row.source) == (30, 60, "given")
    assert abs(row.apex_frame - DEMO_EVENTS[0].apex) <= 2  # the apex is where D is largest
    assert row.kind == "macro"  # 31 frames: longer than 0.5 s


def test_an_intervals_csv_skips_spotting(demo_video: Path, tmp_path):
    given = tmp_path / "given.csv"
    given.write_text("onset,offset,apex\n10,20,\n40,52,46\n")
    out = tmp_path / "out"
    result = predict(demo_video, "--out", out, "--intervals", given)
    assert result.exit_code == 0, result.output
    table = pd.read_csv(out / "intervals.csv")
    assert list(zip(table.onset_frame, table.apex_frame, table.offset_frame, strict=True))[1] == (
        40,
        46,
        52,
    )


def test_frames_without_a_face_are_gaps(tmp_path):
    frames = demo_video_frames(n_frames=120)
    for index in range(70, 90):
        frames[index] = np.zeros_like(frames[index])
    video = write_video(tmp_path / "gappy", frames)
    out = tmp_path / "out"
    result = predict(video, "--out", out)
    assert result.exit_code == 0, result.output
    assert json.loads((out / "summary.json").read_text())["gaps"] == [[70, 89]]
    assert "1 gap(s) without a face (20 frames)" in result.output


def refused(result, out: Path) -> str:
    line = error_line(result)
    assert not out.exists() and not list(out.parent.glob(f".{out.name}*"))
    return line


def test_an_unreadable_video_is_refused(tmp_path):
    video = tmp_path / "broken.mp4"
    video.write_bytes(b"not a video at all" * 100)
    line = refused(predict(video, "--out", tmp_path / "out"), tmp_path / "out")
    assert "broken.mp4" in line


def test_an_empty_folder_is_refused(tmp_path):
    (tmp_path / "empty").mkdir()
    line = refused(predict(tmp_path / "empty", "--out", tmp_path / "out"), tmp_path / "out")
    assert "no numbered image frames" in line


def test_a_video_without_a_face_is_refused(tmp_path):
    frames = tmp_path / "frames"
    frames.mkdir()
    for index in range(6):
        shutil.copy(ASSETS / "cartoon_no_face.jpg", frames / f"frame{index}.jpg")
    line = refused(predict(frames, "--out", tmp_path / "out"), tmp_path / "out")
    assert "no face found in any of its 6 frames" in line


def still_frames(folder: Path, photo: str, grey: bool = False) -> Path:
    """Six copies of a real photograph (tests/assets/real/SOURCES.md) as footage."""
    folder.mkdir()
    image = cv2.imread(str(ASSETS / photo))
    if grey:
        image = cv2.cvtColor(image, cv2.COLOR_BGR2GRAY)
    for index in range(6):
        cv2.imwrite(str(folder / f"frame{index}.png"), image)
    return folder


def test_a_real_group_seen_from_afar_is_refused_naming_its_small_faces(tmp_path):
    frames = still_frames(tmp_path / "group", "group_five.jpg")
    line = refused(predict(frames, "--out", tmp_path / "out"), tmp_path / "out")
    assert "no face large enough to follow in any of its 6 frames" in line
    assert "frame 0 holds 5 small face(s)" in line and "crop the video" in line


@pytest.mark.parametrize(
    "photo, grey",
    [("man_turned_45.jpg", False), ("woman_happy.jpg", True)],
    ids=["profile", "grey"],
)
def test_still_real_footage_turned_or_grey_gives_no_interval(tmp_path, photo, grey):
    out = tmp_path / "out"
    result = predict(still_frames(tmp_path / "frames", photo, grey), "--out", out)
    assert result.exit_code == 0, result.output
    summary = json.loads((out / "summary.json").read_text())
    assert summary["intervals"] == 0 and summary["gaps"] == []
    assert pd.read_csv(out / "intervals.csv").empty


def test_a_model_from_another_version_is_refused(demo_video, tiny_model: Path, tmp_path):
    model = tmp_path / "model"
    shutil.copytree(tiny_model, model)
    card = json.loads((model / MODEL_CARD).read_text())
    (model / MODEL_CARD).write_text(json.dumps({**card, "format": 99}))
    out = tmp_path / "out"
    line = refused(predict(demo_video, "--model", model, "--out", out), out)
    assert "model format 99" in line and MODEL_CARD in line


def test_a_bad_intervals_row_is_named(demo_video, tmp_path):
    given = tmp_path / "given.csv"
    given.write_text("onset,offset\n10,20\n30,x\n")
    out = tmp_path / "out"
    line = refused(predict(demo_video, "--out", out, "--intervals", given), out)
    assert "row 3" in line and "offset" in line


def test_an_interval_outside_the_video_is_refused(demo_video, tmp_path):
    out = tmp_path / "out"
    line = refused(predict(demo_video, "--out", out, "--onset", 100, "--offset", 400), out)
    assert "0-149" in line


def test_an_out_folder_with_other_files_is_left_alone(demo_video, tmp_path):
    out = tmp_path / "out"
    out.mkdir()
    (out / "thesis.tex").write_text("precious")
    line = error_line(predict(demo_video, "--out", out))
    assert "not the output of `mepipe predict`" in line
    assert (out / "thesis.tex").read_text() == "precious"


def test_a_still_face_gives_an_empty_table_with_its_header(tmp_path):
    frames = tmp_path / "frames"
    frames.mkdir()
    for index in range(3):
        shutil.copy(ASSETS / "woman_happy.jpg", frames / f"frame{index}.jpg")
    out = tmp_path / "out"
    result = predict(frames, "--out", out)
    assert result.exit_code == 0, result.output
    table = pd.read_csv(out / "intervals.csv")
    assert table.empty and {"onset_frame", "apex_frame", "kind", "class"} <= set(table.columns)
    assert "0 micro and 0 macro interval(s)" in result.output
