"""Frame decoding: a frame's size is checked from its header, before its pixels cost memory."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest
from png_helpers import zero_png

from mepipe.errors import MepipeError
from mepipe.images import MAX_FRAME_PIXELS, read_frames, read_image

ROOT = Path(__file__).resolve().parent.parent


def test_a_frame_over_the_limit_is_refused_with_its_size(tmp_path):
    frame = zero_png(tmp_path / "img12.png", 12000, 12000)
    with pytest.raises(MepipeError) as caught:
        read_image(str(frame))
    assert caught.value.path == str(frame)
    assert "12000x12000 (144 MP)" in str(caught.value) and "40 MP" in str(caught.value)


def test_a_decompression_bomb_that_pillow_refuses_is_a_clear_error(tmp_path):
    # 400 MP: Pillow raises DecompressionBombError (not an OSError) while opening it.
    frame = zero_png(tmp_path / "img20.png", 20000, 20000)
    assert frame.stat().st_size < 1_000_000
    with pytest.raises(MepipeError, match=r"too large to decode \(400 MP"):
        read_frames([20], [20], [str(frame)])


def test_the_limit_can_be_raised_and_frames_under_it_decode(tmp_path):
    frame = zero_png(tmp_path / "img.png", 5000, 3000)
    assert 15_000_000 <= MAX_FRAME_PIXELS
    assert read_image(str(frame)).shape == (3000, 5000, 3)
    with pytest.raises(MepipeError, match="5000x3000"):
        read_image(str(frame), max_pixels=10_000_000)


_MEMORY = """
import json, resource, sys
from mepipe.errors import MepipeError
from mepipe.images import read_image
before = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
try:
    read_image(sys.argv[1])
except MepipeError as exc:
    error = str(exc)
after = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
print(json.dumps({"grew_kb": after - before, "error": error}))
"""


def test_refusing_a_huge_frame_costs_no_memory(tmp_path):
    """A 12000x12000 frame decoded would take 144 MB grey plus 432 MB RGB; refused, nothing."""
    frame = zero_png(tmp_path / "img.png", 12000, 12000)
    env = {**os.environ, "PYTHONPATH": str(ROOT)}
    child = subprocess.run(
        [sys.executable, "-c", _MEMORY, str(frame)],
        env=env,
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert child.returncode == 0, child.stderr[-2000:]
    result = json.loads(child.stdout)
    assert "12000x12000" in result["error"]
    assert result["grew_kb"] < 50_000  # peak memory grew by less than 50 MB
