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

`--stages` also prints the per-clip time of each alignment stage (decode, landmarks, faces,
warp, encode), from `align_clip` run in this process on every clip, best of `--repeat`
passes; `--no-baseline` skips the slow per-frame baseline (and the floor). Together they
compare two checkouts of mepipe (run each checkout's copy of this script in turn).
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
from mepipe.contract.manifest import manifest_path, read_manifest  # noqa: E402
from mepipe.demo.micro import write_casme2  # noqa: E402
from mepipe.ingest import ingest_database  # noqa: E402
from mepipe.shards import ShardOptions  # noqa: E402
from mepipe.shards.clip import align_clip, new_landmarker  # noqa: E402
from mepipe.shards.plan import clip_to_align  # noqa: E402

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


def stage_times(data: Path, repeat: int) -> tuple[dict[str, float], int]:
    """Milliseconds per clip of each alignment stage over the ingested clips, in this
    process with one landmarker: the best of `repeat` passes for each stage."""

    manifest = read_manifest(manifest_path(data, "casme2"))
    clips = [clip_to_align(row) for _, row in manifest.iterrows() if row.neutral_frame is not None]
    options = ShardOptions()
    best: dict[str, float] = {}
    with new_landmarker(options) as landmarker:
        align_clip(clips[0], options, landmarker)  # warm-up: graph start, first allocations
        for _ in range(repeat):
            totals: dict[str, float] = {}
            for clip in clips:
                for stage, seconds in align_clip(clip, options, landmarker).timings.items():
                    totals[stage] = totals.get(stage, 0.0) + seconds
            for stage, seconds in totals.items():
                best[stage] = min(best.get(stage, float("inf")), 1000 * seconds / len(clips))
    return best, len(clips)


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--subjects", type=int, default=10)
    parser.add_argument("--clips", type=int, default=20, help="clips per subject")
    parser.add_argument("--width", type=int, default=640)
    parser.add_argument("--height", type=int, default=480)
    parser.add_argument("--workdir", type=Path, default=None, help="keep files here")
    parser.add_argument("--stages", action="store_true", help="print per-stage times")
    parser.add_argument("--repeat", type=int, default=3, help="passes for --stages")
    parser.add_argument("--no-baseline", action="store_true", help="skip the per-frame baseline")
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
        stages: dict[str, float] = {}
        if args.stages:
            with console.status("Per-stage times"):
                stages, _ = stage_times(work / "data1", args.repeat)
        base = base_clips = base_frames = 0
        if not args.no_baseline:
            with console.status("Baseline: every frame, one process"):
                start = time.perf_counter()
                base_clips, base_frames = baseline(release, work / "baseline")
                base = time.perf_counter() - start
    finally:
        if args.workdir is None:
            shutil.rmtree(work, ignore_errors=True)

    if stages:
        per_stage = Table(title="alignment stages, ms per clip (best of --repeat passes)")
        per_stage.add_column("stage")
        per_stage.add_column("ms / clip", justify="right")
        for stage, ms in stages.items():
            per_stage.add_row(stage, f"{ms:.1f}")
        per_stage.add_row("total", f"{sum(stages.values()):.1f}")
        console.print(per_stage)
    if args.no_baseline:
        for name, seconds in (("1 worker", one), ("2 workers", two)):
            console.print(f"mepipe ingest, {name}: {seconds:.1f} s, {clips / seconds:.2f} clips/s")
        return 0

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
