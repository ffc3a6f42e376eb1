"""Ingest speed: mepipe against the usual per-frame preprocessing script, in the same run.

Builds a demo CASME II release (default 10 subjects x 20 clips = 200 micro clips of 40-70
frames, 640x480 JPEG like the real one), then times on it:

  baseline   what public micro-expression scripts do: read every frame of every clip,
             find the face on every frame (the same mediapipe FaceMesh), crop it with a
             per-frame 5-point alignment to 224x224 and write a PNG per frame; one process.
  mepipe     `ingest_database` end to end (sheet parsing, frame choice and checks, one
             alignment per clip on the neutral frame, six JPEG crops per clip in
             WebDataset shards, the manifest), with 1 and with 2 worker processes.

Prints clips/s of each, the ratio mepipe(1 worker) / baseline (the floor is 5x) and the
1 -> 2 worker scaling. Exits 1 if the floor is not met.

    OMP_NUM_THREADS=1 python benchmarks/ingest_bench.py [--subjects 10 --clips 20]
"""

from __future__ import annotations

import argparse
import io
import os
import shutil
import sys
import tempfile
import time
from pathlib import Path

import cv2
from rich.console import Console
from rich.table import Table

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from mepipe.align.landmarks import Landmarker  # noqa: E402
from mepipe.align.transform import fit_similarity, template, warp  # noqa: E402
from mepipe.demo.micro import write_casme2  # noqa: E402
from mepipe.ingest import ingest_database  # noqa: E402
from mepipe.shards import ShardOptions  # noqa: E402

FLOOR = 5.0
console = Console()


def baseline(release: Path, out: Path) -> tuple[int, int]:
    """The usual script: every frame read, aligned on its own and saved as PNG.
    Returns (clips, frames) processed."""
    frames_root = release / "CASME2_RAW_selected"
    clips = frames = 0
    target = template(224)
    with Landmarker() as landmarker:
        for clip_dir in sorted(p for p in frames_root.glob("sub*/*") if p.is_dir()):
            destination = out / clip_dir.parent.name / clip_dir.name
            destination.mkdir(parents=True, exist_ok=True)
            for path in sorted(clip_dir.glob("*.jpg")):
                image = cv2.cvtColor(cv2.imread(str(path)), cv2.COLOR_BGR2RGB)
                face = landmarker.detect(image).face
                if face is None:
                    continue
                crop = warp(image, fit_similarity(face.five(), target), 224)
                cv2.imwrite(str(destination / f"{path.stem}.png"), crop[..., ::-1])
                frames += 1
            clips += 1
    return clips, frames


def time_mepipe(release: Path, data: Path, workers: int) -> tuple[float, int]:
    """Seconds for a clean `ingest_database` (alignment and shards) and clips ingested."""
    shutil.rmtree(data, ignore_errors=True)
    quiet = Console(file=io.StringIO())
    start = time.perf_counter()
    report = ingest_database(
        "casme2", release, data, shard_options=ShardOptions(), workers=workers, console=quiet
    )
    return time.perf_counter() - start, report.clips_found


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--subjects", type=int, default=10)
    parser.add_argument("--clips", type=int, default=20, help="clips per subject")
    parser.add_argument("--width", type=int, default=640)
    parser.add_argument("--height", type=int, default=480)
    parser.add_argument("--workdir", type=Path, default=None, help="keep files here")
    args = parser.parse_args()
    os.environ.setdefault("OMP_NUM_THREADS", "1")
    cv2.setNumThreads(1)
    work = args.workdir or Path(tempfile.mkdtemp(prefix="ingest_bench_"))
    release = work / "raw" / "casme2"
    try:
        if not (release / "CASME2-coding-20140508.xlsx").exists():
            with console.status("Rendering the demo release"):
                write_casme2(
                    release,
                    subjects=args.subjects,
                    clips_per_subject=args.clips,
                    size=(args.width, args.height),
                    seed=0,
                    frames=(40, 70),
                )
        n_frames = sum(1 for _ in release.glob("CASME2_RAW_selected/sub*/*/*.jpg"))

        one, clips = time_mepipe(release, work / "data1", workers=1)
        two, _ = time_mepipe(release, work / "data2", workers=2)
        with console.status("Baseline: every frame, one process"):
            start = time.perf_counter()
            base_clips, base_frames = baseline(release, work / "baseline")
            base = time.perf_counter() - start
    finally:
        if args.workdir is None:
            shutil.rmtree(work, ignore_errors=True)

    table = Table(
        title=f"{clips} CASME II demo clips, {n_frames} frames, {args.width}x{args.height}"
    )
    for column in ("pipeline", "seconds", "clips/s", "vs baseline"):
        table.add_column(column, justify="right" if column != "pipeline" else "left")
    rows = [
        (f"baseline (every frame, PNG; {base_frames} crops)", base, base_clips),
        ("mepipe ingest, 1 worker", one, clips),
        ("mepipe ingest, 2 workers", two, clips),
    ]
    for name, seconds, count in rows:
        table.add_row(name, f"{seconds:.1f}", f"{count / seconds:.2f}", f"{base / seconds:.1f}x")
    console.print(table)
    ratio = base / one
    console.print(f"ratio mepipe(1 worker) / baseline: {ratio:.1f}x (floor {FLOOR:g}x)")
    console.print(f"scaling 1 -> 2 workers: {one / two:.2f}x on {os.cpu_count()} cores")
    if ratio < FLOOR:
        console.print(f"[red]below the floor of {FLOOR:g}x[/]")
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main())
