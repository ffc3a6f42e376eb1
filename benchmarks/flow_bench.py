"""Optical-flow extraction per clip: mepipe's path against the way public scripts do it.

Both run in this process on the same demo clips (onset and apex frames of the size of a
raw release, 640x480 like CASME II by default), clip by clip and alternately, so that a busy
machine slows both alike, with the same algorithm, parameters and one OpenCV thread:

  mepipe    the two frames warped to the aligned SxS crops (the transform alignment
            recorded), then flow, strain and magnitude on the crops (mepipe.flow.flow_fields):
            what `mepipe ingest --flow` does after alignment.
  baseline  flow on the full-resolution gray frames, then the flow field cropped to the face
            box and resized to SxS, then strain and magnitude (the preprocessing scripts
            shared in STSTNet's and HTNet's issue threads).

The face's transform comes from the demo's known landmarks (alignment itself is not timed
here: `benchmarks/ingest_bench.py` does that). Prints ms per clip, clips/s and the ratio
mepipe / baseline of clips/s for each algorithm.

    OMP_NUM_THREADS=1 python benchmarks/flow_bench.py [--clips 4 --rounds 3 --size 224]
"""

from __future__ import annotations

import argparse
import statistics
import sys
import time
from pathlib import Path

import cv2
import numpy as np
from rich.console import Console
from rich.table import Table

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from mepipe.align.landmarks import ALIGNMENT_POINT_NAMES  # noqa: E402
from mepipe.align.transform import fit_similarity, template, warp  # noqa: E402
from mepipe.demo.face import EMOTION_MOTIONS, Look, landmarks_in_frame, render_clip  # noqa: E402
from mepipe.flow import FlowFields, FlowOptions, flow_fields, optical_flow  # noqa: E402
from mepipe.flow import optical_strain as strain_of  # noqa: E402

console = Console()


def demo_clips(
    count: int, frame: tuple[int, int]
) -> list[tuple[np.ndarray, np.ndarray, np.ndarray]]:
    """(onset, apex, 2x3 transform to the crop template) of `count` demo clips."""
    labels = [label for label in EMOTION_MOTIONS if label not in ("positive", "negative")]
    clips = []
    for i in range(count):
        look = Look.for_subject(i)
        onset, apex = render_clip(look, labels[i % len(labels)], 3, 1, 3.0, frame)[:2]
        points = landmarks_in_frame(look, frame)
        five = np.array([points[name] for name in ALIGNMENT_POINT_NAMES])
        clips.append((onset, apex, five))
    return clips


def mepipe_path(
    onset: np.ndarray, apex: np.ndarray, five: np.ndarray, size: int, options: FlowOptions
) -> FlowFields:
    matrix = fit_similarity(five, template(size))
    return flow_fields(warp(onset, matrix, size), warp(apex, matrix, size), options)


def baseline_path(
    onset: np.ndarray, apex: np.ndarray, five: np.ndarray, size: int, options: FlowOptions
) -> FlowFields:
    flow = optical_flow(onset, apex, options)  # full frame, gray
    # the face box: the crop the template would take, as an axis-aligned box
    matrix = fit_similarity(five, template(size))
    corners = (
        cv2.invertAffineTransform(matrix)
        @ np.array([[0, 0, 1], [size, 0, 1], [0, size, 1], [size, size, 1]], float).T
    )
    x0, y0 = np.floor(corners.min(axis=1)).astype(int).clip(0)
    x1, y1 = np.ceil(corners.max(axis=1)).astype(int)
    box = flow[y0:y1, x0:x1]
    scale = size / box.shape[1]
    field = cv2.resize(box, (size, size), interpolation=cv2.INTER_LINEAR) * scale
    flow2 = np.moveaxis(field, -1, 0)
    return FlowFields(flow=flow2, strain=strain_of(flow2), magnitude=np.hypot(*flow2))


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--clips", type=int, default=4)
    parser.add_argument("--rounds", type=int, default=3)
    parser.add_argument("--size", type=int, default=224, help="crop side")
    parser.add_argument("--frame", default="640x480", help="raw frame size, WxH")
    parser.add_argument("--methods", default="tvl1,farneback")
    args = parser.parse_args()
    frame = tuple(int(v) for v in args.frame.split("x"))
    clips = demo_clips(args.clips, frame)  # type: ignore[arg-type]
    table = Table(
        title=f"flow per clip, {args.frame} frames -> {args.size}px crops, one OpenCV thread "
        f"(median of {args.rounds} rounds of {args.clips} clips)"
    )
    for column in (
        "algorithm",
        "mepipe ms/clip",
        "baseline ms/clip",
        "mepipe clips/s",
        "baseline clips/s",
        "ratio",
    ):
        table.add_column(column, justify="right")
    for method in args.methods.split(","):
        options = FlowOptions(flow=method)
        times: dict[str, list[float]] = {"mepipe": [], "baseline": []}
        for _ in range(args.rounds):
            for onset, apex, five in clips:
                for name, path in (("mepipe", mepipe_path), ("baseline", baseline_path)):
                    start = time.perf_counter()
                    path(onset, apex, five, args.size, options)
                    times[name].append(time.perf_counter() - start)
        ours, theirs = statistics.median(times["mepipe"]), statistics.median(times["baseline"])
        table.add_row(
            method,
            f"{1000 * ours:.0f}",
            f"{1000 * theirs:.0f}",
            f"{1 / ours:.2f}",
            f"{1 / theirs:.2f}",
            f"{theirs / ours:.1f}x",
        )
    console.print(table)


if __name__ == "__main__":
    main()
