"""mepipe.flow: optical flow between two aligned crops, against displacement fields we know.

The second crop is the first warped by a smooth field (a Gaussian bump moving 2 px right and
1 px up at its centre) with cv2.remap, so the true flow is known at every pixel. Crops are
112 px (the ingest tests' sizes elsewhere are smaller still): the documented tolerances
(docs/shards.md) were measured at 112 and hold with margin at 224.
"""

from __future__ import annotations

from pathlib import Path

import cv2
import numpy as np
import pytest
from click.testing import CliRunner

from mepipe.demo.face import astronaut
from mepipe.errors import OptionError
from mepipe.flow import FlowOptions, flow_fields, optical_strain

SIZE = 112
REAL = Path(__file__).parent / "assets" / "real"
TOLERANCE = {"tvl1": 0.2, "farneback": 0.3}  # mean endpoint error inside the moving face, px


def demo_face() -> np.ndarray:
    """The demo data's face (mepipe.demo.face), cropped round the face as alignment does."""
    return cv2.resize(astronaut()[30:230, 123:323], (SIZE, SIZE), interpolation=cv2.INTER_AREA)


def real_face() -> np.ndarray:
    """A real photograph (tests/assets/real/SOURCES.md), cropped round the face."""
    image = cv2.cvtColor(cv2.imread(str(REAL / "woman_happy.jpg")), cv2.COLOR_BGR2RGB)
    h, w = image.shape[:2]
    face = image[h // 2 - 150 : h // 2 + 150, w // 2 - 150 : w // 2 + 150]
    return cv2.resize(face, (SIZE, SIZE), interpolation=cv2.INTER_AREA)


def known_warp(
    image: np.ndarray, du: float, dv: float
) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """(warped image, true flow (2, S, S) from `image` to it, weight of the motion)."""
    ys, xs = np.mgrid[0:SIZE, 0:SIZE].astype(np.float32)
    sigma = SIZE / 6
    bump = np.exp(-((xs - SIZE / 2) ** 2 + (ys - SIZE / 2) ** 2) / (2 * sigma**2))
    field = np.stack([du * bump, dv * bump]).astype(np.float32)
    # second(p) = first(p - d(p)); the forward flow t solves t(q) = d(q + t(q))
    warped = cv2.remap(
        image, xs - field[0], ys - field[1], cv2.INTER_CUBIC, borderMode=cv2.BORDER_REFLECT
    )
    truth = np.zeros_like(field)
    for _ in range(10):
        truth = np.stack(
            [cv2.remap(f, xs + truth[0], ys + truth[1], cv2.INTER_LINEAR) for f in field]
        )
    return warped, truth, bump


@pytest.mark.parametrize(
    ("face", "method"),
    [(demo_face, "tvl1"), (real_face, "tvl1"), (demo_face, "farneback")],
)
def test_flow_matches_a_known_warp_inside_the_face_and_is_near_zero_elsewhere(face, method):
    image = face()
    warped, truth, bump = known_warp(image, 2.0, -1.0)
    fields = flow_fields(image, warped, FlowOptions(flow=method))
    assert fields.flow.shape == (2, SIZE, SIZE) and fields.strain.shape == (SIZE, SIZE)
    error = np.sqrt(((fields.flow - truth) ** 2).sum(axis=0))
    moving, still = bump > 0.5, bump < 0.01
    assert error[moving].mean() < TOLERANCE[method]
    assert fields.magnitude[still].mean() < 0.1
    # the sign convention of docs/shards.md: right is +u, up is -v
    assert fields.flow[0][moving].mean() > 1.0 and fields.flow[1][moving].mean() < -0.5
    np.testing.assert_allclose(fields.magnitude, np.hypot(*fields.flow), rtol=1e-5)


def test_the_strain_of_a_translation_is_near_zero():
    image = demo_face()
    moved = cv2.warpAffine(
        image, np.float32([[1, 0, 1.5], [0, 1, -0.5]]), (SIZE, SIZE), flags=cv2.INTER_CUBIC,
        borderMode=cv2.BORDER_REFLECT,
    )  # fmt: skip
    fields = flow_fields(image, moved, FlowOptions(flow="tvl1"))
    inner = np.s_[SIZE // 8 : -SIZE // 8, SIZE // 8 : -SIZE // 8]
    assert abs(fields.flow[0][inner].mean() - 1.5) < 0.05
    assert fields.strain[inner].mean() < 0.02  # a smooth warp of 2 px gives 0.05
    warped, _, _ = known_warp(image, 2.0, -1.0)
    assert flow_fields(image, warped, FlowOptions(flow="tvl1")).strain[inner].mean() > 0.03


def test_optical_strain_is_the_documented_formula():
    ys, xs = np.mgrid[0:16, 0:16].astype(np.float32)
    assert (
        np.abs(optical_strain(np.stack([np.full_like(xs, 3.0), np.full_like(xs, -2.0)]))).max() == 0
    )
    stretch = optical_strain(np.stack([0.1 * xs, np.zeros_like(xs)]))  # u_x = 0.1
    np.testing.assert_allclose(stretch, 0.1, rtol=1e-6)
    shear = optical_strain(np.stack([0.2 * ys, np.zeros_like(xs)]))  # u_y = 0.2
    np.testing.assert_allclose(shear, np.sqrt(0.5 * 0.2**2), rtol=1e-6)


def test_flow_does_not_depend_on_opencvs_thread_count():
    image = demo_face()
    warped, _, _ = known_warp(image, 2.0, -1.0)
    options = FlowOptions(flow="tvl1")
    before = cv2.getNumThreads()
    try:
        cv2.setNumThreads(4)
        many = flow_fields(image, warped, options)
        cv2.setNumThreads(1)
        one = flow_fields(image, warped, options)
    finally:
        cv2.setNumThreads(before)
    assert many.flow.tobytes() == one.flow.tobytes()


def test_options_name_every_parameter_and_refuse_bad_values():
    options = FlowOptions(flow="tvl1", flow_pairs="apex-offset,onset-apex")
    assert options.flow_pairs == ("onset-apex", "apex-offset")  # one spelling
    described = options.describe()
    assert described is not None and described.startswith("tvl1 pairs=onset-apex,apex-offset")
    assert "tau=0.25" in described and "lambda=0.15" in described and "warps=5" in described
    assert FlowOptions().describe() is None
    with pytest.raises(OptionError, match="--flow must be one of"):
        FlowOptions(flow="deepflow")
    with pytest.raises(OptionError, match="--flow-pairs"):
        FlowOptions(flow="tvl1", flow_pairs="apex-offset")
    with pytest.raises(OptionError, match="--flow-warps must be >= 1"):
        FlowOptions(flow="tvl1", flow_warps=0)


@pytest.mark.parametrize(
    ("args", "message"),
    [
        ("--flow foo", "--flow must be one of tvl1, farneback, none, not 'foo'"),
        ("--flow tvl1 --flow-tau -1", "--flow-tau must be in (0, 0.25], got -1.0"),
        ("--flow tvl1 --flow-pairs onset-offset", "--flow-pairs must be onset-apex or"),
    ],
)
def test_a_bad_flow_option_is_one_error_line_naming_the_flag(tmp_path, args, message):
    from mepipe.cli import main

    command = ["ingest", "casme2", str(tmp_path), "--out", str(tmp_path / "out"), *args.split()]
    result = CliRunner().invoke(main, command)
    assert result.exit_code == 1 and "Traceback" not in result.output
    assert result.output.startswith(f"Error: {message}"), result.output
    assert len(result.output.strip().splitlines()) == 1
