"""The landmark and face-count work per clip: mepipe's pipeline against the one before issue 7.

Both run in this process, on the same demo frames, clip by clip and alternately, so that a
busy machine slows both alike:

  before   FaceMesh (two faces, iris refinement) on the neutral frame, BlazeFace short range
           on it for the score, FaceMesh on the apex frame; the faces were FaceMesh's count.
  after    `Landmarker.detect` on the neutral frame (FaceMesh, the score read from its own
           graph), `Landmarker.find_faces` (BlazeFace full range, once, on the frame shrunk
           to 192 px) with `confirm_candidates`, and the still points followed into the
           apex frame by optical flow (`track_still_points`): what
           `mepipe.shards.clip.align_clip` does before the warp.

Prints, per frame size, the median milliseconds per clip of each and their ratio.

    OMP_NUM_THREADS=1 python benchmarks/face_check_bench.py [--clips 40 --rounds 5]
"""

from __future__ import annotations

import argparse
import functools
import os
import statistics
import sys
import time
from dataclasses import replace
from pathlib import Path

import cv2
import numpy as np
from rich.console import Console
from rich.table import Table

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from mepipe.align.landmarks import MESH_FACES, Landmarker, track_still_points  # noqa: E402
from mepipe.align.quality import Thresholds, confirm_candidates  # noqa: E402
from mepipe.demo.face import EMOTION_MOTIONS, Look, render_clip  # noqa: E402

console = Console()


class Before:
    """The landmark stage as mepipe ran it before the full-range count (mediapipe's own
    FaceMesh class and a separate short-range BlazeFace for the score)."""

    def __init__(self) -> None:
        from mediapipe.python.solutions import face_detection, face_mesh

        self.mesh = face_mesh.FaceMesh(
            static_image_mode=True,
            max_num_faces=MESH_FACES,
            refine_landmarks=True,
            min_detection_confidence=0.2,
        )
        self.detector = face_detection.FaceDetection(
            model_selection=0, min_detection_confidence=0.1
        )

    def clip(self, neutral: np.ndarray, apex: np.ndarray) -> None:
        self.mesh.process(neutral)
        self.detector.process(neutral)
        self.mesh.process(apex)


class After:
    """The landmark and face-count stages as `align_clip` runs them now."""

    def __init__(self) -> None:
        self.landmarker = Landmarker()
        self.thresholds = Thresholds()

    def clip(self, neutral: np.ndarray, apex: np.ndarray) -> None:
        found = self.landmarker.detect(neutral)
        found = replace(found, found=self.landmarker.find_faces(neutral))
        confirm = functools.partial(self.landmarker.confirm, neutral)
        confirm_candidates(found, self.thresholds, confirm)
        track_still_points(neutral, apex, found.face)


def frames(count: int, size: tuple[int, int]) -> list[tuple[np.ndarray, np.ndarray]]:
    """(neutral, apex) of `count` demo micro clips of `size`, different subjects and labels."""
    labels = sorted(EMOTION_MOTIONS)
    pairs = []
    for i in range(count):
        clip = render_clip(Look.for_subject(100 + i), labels[i % len(labels)], 9, 4, 3.0, size)
        pairs.append((np.ascontiguousarray(clip[0]), np.ascontiguousarray(clip[4])))
    return pairs


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--clips", type=int, default=40)
    parser.add_argument("--rounds", type=int, default=5)
    args = parser.parse_args()
    os.environ.setdefault("OMP_NUM_THREADS", "1")
    cv2.setNumThreads(1)
    before, after = Before(), After()
    table = Table(title=f"landmarks + face count, ms per clip (median of {args.rounds} rounds)")
    for column in ("frames", "before", "after", "after / before"):
        table.add_column(column, justify="right")
    for size in ((320, 240), (640, 480)):
        pairs = frames(args.clips, size)
        times: dict[str, list[float]] = {"before": [], "after": []}
        for pipeline in (before, after):  # warm-up
            pipeline.clip(*pairs[0])
        for _ in range(args.rounds):
            for name, pipeline in (("before", before), ("after", after)):
                start = time.perf_counter()
                for pair in pairs:
                    pipeline.clip(*pair)
                times[name].append(1000 * (time.perf_counter() - start) / len(pairs))
        old, new = statistics.median(times["before"]), statistics.median(times["after"])
        table.add_row(f"{size[0]}x{size[1]}", f"{old:.1f}", f"{new:.1f}", f"{new / old:.2f}")
    console.print(table)
    console.print(f"load average at the end: {os.getloadavg()[0]:.1f} on {os.cpu_count()} cores")
    return 0


if __name__ == "__main__":
    sys.exit(main())
