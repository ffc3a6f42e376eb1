"""Write one database's WebDataset shards from its manifest: parallel, resumable, exact.

`write_shards` is what `mepipe ingest` calls. Clips are aligned in worker processes (one
mediapipe Landmarker each, see mepipe.shards.clip); the parent writes each shard as soon as its last clip is
back, to a temporary name then renamed, and rewrites index.json after every shard. A rerun
reuses every shard whose inputs, options and sha256 still match, so after a crash it does
only the rest and ends with the same bytes as a clean run.
"""

from __future__ import annotations

import json
import multiprocessing
import os
import time
from collections.abc import Callable, Iterator
from concurrent.futures import ProcessPoolExecutor, as_completed
from dataclasses import dataclass, field, replace
from pathlib import Path
from typing import Any

import pandas as pd
from rich.console import Console
from rich.progress import (
    BarColumn,
    MofNCompleteColumn,
    Progress,
    ProgressColumn,
    Task,
    TextColumn,
    TimeElapsedColumn,
    TimeRemainingColumn,
)
from rich.text import Text

from mepipe.align.quality import REJECTED, Verdict
from mepipe.atomic import link_or_copy
from mepipe.contract.manifest import SHARD_COLUMNS, ClipStatus
from mepipe.contract.sample import member_names, shard_writer, write_sample
from mepipe.errors import MepipeError
from mepipe.shards.clip import (
    STAGES,
    AlignedClip,
    ClipToAlign,
    align_clip,
    align_in_worker,
    init_worker,
    known_alignment_fits,
    new_landmarker,
)
from mepipe.shards.index import (
    INDEX_NAME,
    ClipFacts,
    ShardEntry,
    ShardIndex,
    read_index,
    sha256_of,
    write_index,
)
from mepipe.shards.options import ShardOptions
from mepipe.shards.plan import (
    SHARDS_DIR,
    ShardPlan,
    clip_to_align,
    labels_of,
    plain,
    plan_shards,
)

console = Console(stderr=True)


@dataclass
class ShardRun:
    """What a run of shard writing did (the benchmark and the tests read it)."""

    manifest: pd.DataFrame
    database: str = ""
    clips_aligned: int = 0  # clips aligned by this run (not reused from complete shards)
    shards_written: int = 0
    shards_reused: int = 0
    seconds: float = 0.0  # wall time
    timings: dict[str, float] = field(default_factory=lambda: dict.fromkeys(STAGES, 0.0))


def write_shards(
    db_dir: Path,
    manifest: pd.DataFrame,
    options: ShardOptions,
    workers: int | None = None,
    reuse_from: Path | None = None,
    summary: Callable[[str, ShardRun], None] | None = None,
) -> pd.DataFrame:
    """Align and shard one database; return its manifest with the shard columns added.

    `manifest` holds one row per clip (docs/manifest.md); rows with status `rejected` are
    passed through. Quality rejections and flags update `status` and `reason`.
    Writes `<db_dir>/shards/*.tar` and `<db_dir>/shards/index.json` (docs/shards.md).
    Complete shards already in `<db_dir>/shards/`, or in the shards folder `reuse_from`
    (the live version while ingest builds its successor beside it), are reused where their
    inputs still match; those of `reuse_from` are hard-linked, not copied. `summary`, if
    given, is called with the database and the run's counts and stage timings (the command
    layer prints them: `mepipe.cli.ingest.shard_summary_table`).
    """
    run = run_shards(db_dir, manifest, options, workers, reuse_from=reuse_from)
    if summary is not None:
        summary(str(run.database), run)
    return run.manifest


def run_shards(
    db_dir: Path,
    manifest: pd.DataFrame,
    options: ShardOptions,
    workers: int | None = None,
    quiet: bool = False,
    reuse_from: Path | None = None,
) -> ShardRun:
    """`write_shards`, returning timings and counts as well."""
    started = time.perf_counter()
    shards_dir = Path(db_dir) / SHARDS_DIR
    shards_dir.mkdir(parents=True, exist_ok=True)
    manifest = manifest.reset_index(drop=True)
    if manifest["key"].duplicated().any():
        duplicated = sorted(set(manifest.loc[manifest["key"].duplicated(), "key"]))
        raise MepipeError(f"manifest has duplicate keys: {', '.join(duplicated[:5])}")
    database = str(manifest["database"].iloc[0]) if len(manifest) else Path(db_dir).name
    try:
        plans = plan_shards(manifest, options)
    except ValueError as exc:
        raise MepipeError(str(exc), db_dir) from None
    rows = {str(row["key"]): row for _, row in manifest.iterrows()}

    known = _known_alignments([shards_dir, reuse_from], manifest, options)
    done = _reusable(shards_dir, plans, options)
    _remove_leftovers(shards_dir, {plan.name for plan in plans})
    if reuse_from is not None and reuse_from.is_dir():
        others = _reusable(reuse_from, [plan for plan in plans if plan.name not in done], options)
        for name, entry in others.items():
            _link_into(reuse_from / name, shards_dir / name)
            done[name] = entry
    index = ShardIndex(database, options.to_json(), list(done.values()))
    write_index(shards_dir, index)
    run = ShardRun(manifest, shards_reused=len(done))

    todo = [plan for plan in plans if plan.name not in done]
    pending = {plan.name: set(plan.keys) for plan in todo}
    results: dict[str, dict[str, AlignedClip]] = {plan.name: {} for plan in todo}
    shard_of = {key: plan for plan in todo for key in plan.keys}
    jobs: list[ClipToAlign] = []
    for plan in todo:
        for key in plan.keys:
            try:
                job = clip_to_align(rows[key])
            except ValueError as exc:  # a row without selected frames: reject, go on
                results[plan.name][key] = AlignedClip(key, Verdict().add(REJECTED, str(exc)))
                pending[plan.name].discard(key)
                continue
            facts = known.get(key)
            if facts is not None and known_alignment_fits(facts, job, options):
                job = replace(job, known=facts)
            jobs.append(job)

    def finish(plan: ShardPlan) -> None:
        with _timed(run.timings, "write"):
            entry = _write_shard(shards_dir, plan, results.pop(plan.name), rows, options)
        index.shards.append(entry)
        write_index(shards_dir, index)
        run.shards_written += 1

    for plan in todo:  # shards whose clips were all rejected before any work
        if not pending[plan.name]:
            finish(plan)
    with _progress(quiet) as progress:
        task = progress.add_task(f"[bold]{database}[/] align + shard", total=len(jobs))
        for aligned in _align_all(jobs, options, workers):
            for stage, seconds in aligned.timings.items():
                run.timings[stage] += seconds
            plan = shard_of[aligned.key]
            results[plan.name][aligned.key] = aligned
            pending[plan.name].discard(aligned.key)
            if not pending[plan.name]:
                finish(plan)
            run.clips_aligned += 1
            progress.advance(task)

    run.manifest = _merge(manifest, index)
    run.seconds = time.perf_counter() - started
    run.database = database
    return run


# --- reuse and cleanup -------------------------------------------------------------------


def _reusable(
    shards_dir: Path, plans: list[ShardPlan], options: ShardOptions
) -> dict[str, ShardEntry]:
    """Entries of the existing index that a rerun can keep as they are."""
    if not (shards_dir / INDEX_NAME).exists():
        return {}
    try:
        old = read_index(shards_dir)
    except MepipeError:
        return {}  # unreadable index: nothing is trusted, everything is redone
    if old.options != json.loads(json.dumps(options.to_json())):  # as stored
        return {}
    previous = old.by_name()
    keep = {}
    for plan in plans:
        entry = previous.get(plan.name)
        path = shards_dir / plan.name
        if entry and entry.inputs == plan.inputs and path.is_file():
            if sha256_of(path) == entry.sha256:
                keep[plan.name] = entry
    return keep


def _known_alignments(
    dirs: list[Path | None], manifest: pd.DataFrame, options: ShardOptions
) -> dict[str, ClipFacts]:
    """Per-clip alignment facts that earlier runs recorded (in the index of each shards
    folder of `dirs`) with the same options but for optical flow, from the same manifest
    rows: adding or changing flow applies them again instead of detecting faces."""
    known: dict[str, ClipFacts] = {}
    for shards_dir in dirs:
        if shards_dir is None or not (shards_dir / INDEX_NAME).exists():
            continue
        try:
            old = read_index(shards_dir)
            old_options = ShardOptions.from_json(old.options)
            old_plans = {plan.name: plan for plan in plan_shards(manifest, old_options)}
        except (MepipeError, TypeError, ValueError):
            continue  # an index we cannot read or options we do not know: align again
        if replace(old_options, optical_flow=options.optical_flow) != options:
            continue
        for entry in old.shards:
            plan = old_plans.get(entry.name)
            if plan is not None and plan.inputs == entry.inputs:  # same rows, same options
                for key, facts in entry.clips.items():
                    known.setdefault(key, facts)
    return known


def _remove_leftovers(shards_dir: Path, planned: set[str]) -> None:
    """Delete temporary files of a killed run and shards that the plan no longer has."""
    for path in shards_dir.iterdir():
        stale_tar = path.suffix == ".tar" and path.name not in planned
        if path.is_file() and (stale_tar or path.name.endswith(".tmp")):
            path.unlink()


def _link_into(source: Path, target: Path) -> None:
    """Put `source` at `target` (hard link, or copy) under a temporary name, then rename."""
    tmp = target.with_name(f".{target.name}.link.tmp")
    tmp.unlink(missing_ok=True)
    link_or_copy(source, tmp)
    os.replace(tmp, target)


# --- alignment, in-process or in workers -------------------------------------------------


def _align_all(
    jobs: list[ClipToAlign], options: ShardOptions, workers: int | None
) -> Iterator[AlignedClip]:
    """Aligned clips as they finish (any order). One worker runs in this process."""
    if not jobs:
        return
    workers = min(workers or os.cpu_count() or 1, len(jobs))
    if workers == 1:
        # no landmarker (mediapipe's start-up) when every alignment is known
        landmarker = None if all(job.known for job in jobs) else new_landmarker(options)
        try:
            for clip in jobs:
                yield align_clip(clip, options, landmarker)
        finally:
            if landmarker is not None:
                landmarker.close()
        return
    with worker_pool(options, workers) as executor:
        futures = [executor.submit(align_in_worker, clip) for clip in jobs]
        try:
            for future in as_completed(futures):
                yield future.result()
        finally:
            for future in futures:
                future.cancel()


def worker_pool(options: ShardOptions, workers: int) -> ProcessPoolExecutor:
    """`workers` processes that align clips, each with its own Landmarker; they exit when
    this process dies, even by `kill -9` (mepipe.parent_watch)."""
    # spawn, not fork: mediapipe and OpenCV start threads that a fork does not survive
    context = multiprocessing.get_context("spawn")
    return ProcessPoolExecutor(workers, context, init_worker, (options, os.getpid()))


# --- writing a shard ---------------------------------------------------------------------


def sample_record(
    row: pd.Series, facts: ClipFacts, options: ShardOptions, offset_frame: int | None = None
) -> dict[str, Any]:
    """The `json` member of a sample: the clip record, every scheme's label, alignment, and
    with flow on the flow options and the offset frame used (apex-offset pair, else null)."""
    status, reason = merged_status(row, facts)
    record = {
        "key": str(row["key"]),
        "database": plain(row["database"]),
        "kind": plain(row.get("kind")),
        "subject": plain(row["subject"]),
        "clip": plain(row.get("clip")),
        "label": plain(row.get("label")),
        "labels": labels_of(row),
        "neutral_frame": plain(row.get("neutral_frame")),
        "expression_frames": plain(row.get("expression_frames")),
        "status": status,
        "reason": reason,
        "size": options.size,
        "format": options.format,
        "align": options.align,
        "landmarks": facts.landmarks,
        "transform": facts.transform,
        "detect_frame": facts.detect_frame,
        "frame_transforms": facts.frame_transforms,
    }
    if options.optical_flow.on:
        record["flow"] = options.optical_flow.describe()
        record["offset_frame"] = offset_frame
    return record


def _write_shard(
    shards_dir: Path,
    plan: ShardPlan,
    aligned: dict[str, AlignedClip],
    rows: dict[str, pd.Series],
    options: ShardOptions,
) -> ShardEntry:
    """Write one tar (temporary name, then rename) and return its index entry.

    Samples are written by mepipe.contract.sample (member order, deterministic headers).
    """
    path = shards_dir / plan.name
    clips: dict[str, ClipFacts] = {}
    keys: list[str] = []
    with shard_writer(path) as tar:
        for key in plan.keys:
            clip = aligned[key]
            facts = ClipFacts(
                status=clip.verdict.status,
                reasons=list(clip.verdict.reasons),
                landmarks=clip.landmarks,
                transform=clip.transform,
                detect_frame=clip.detect_frame,
                frame_transforms=clip.frame_transforms,
            )
            clips[key] = facts
            if facts.status == REJECTED:
                continue
            record = sample_record(rows[key], facts, options, clip.offset_frame)
            write_sample(tar, key, clip.images, record, options.format, clip.arrays)
            keys.append(key)
    return ShardEntry(
        name=plan.name,
        subject=plan.subject,
        keys=keys,
        sha256=sha256_of(path),
        bytes=path.stat().st_size,
        inputs=plan.inputs,
        clips=clips,
    )


# --- the manifest --------------------------------------------------------------------------


def merged_status(row: pd.Series, facts: ClipFacts) -> tuple[str, str | None]:
    """The clip's status and reason once quality is known: the worse status wins, and the
    reasons of ingest and of quality are joined."""
    before = plain(row["status"]) or ClipStatus.OK
    reasons = [r for r in [plain(row.get("reason")), *facts.reasons] if r]
    status = ClipStatus.worst(before, facts.status)
    return status, "; ".join(reasons) or None


def _merge(manifest: pd.DataFrame, index: ShardIndex) -> pd.DataFrame:
    """The manifest with the shard columns added and status/reason updated."""
    located: dict[str, tuple[str, ClipFacts]] = {}
    for entry in index.shards:
        for key, facts in entry.clips.items():
            located[key] = (entry.name, facts)
    fmt = index.options["format"]
    flow = ShardOptions.from_json(index.options).optical_flow
    pairs = flow.flow_pairs if flow.on else ()
    out = manifest.drop(columns=[c for c in SHARD_COLUMNS if c in manifest.columns]).copy()
    columns: dict[str, list[Any]] = {name: [] for name in (*SHARD_COLUMNS, "status", "reason")}
    for _, row in manifest.iterrows():
        key = str(row["key"])
        if key not in located:  # rejected before alignment
            for name in SHARD_COLUMNS:
                columns[name].append(None)
            columns["status"].append(row["status"])
            columns["reason"].append(plain(row.get("reason")))
            continue
        name, facts = located[key]
        status, reason = merged_status(row, facts)
        kept = status != REJECTED
        columns["shard"].append(f"{SHARDS_DIR}/{name}" if kept else None)
        columns["members"].append(member_names(key, fmt, pairs) if kept else None)
        columns["flow"].append(flow.describe() if kept else None)
        columns["landmarks"].append(facts.landmarks)
        columns["transform"].append(facts.transform)
        columns["detect_frame"].append(facts.detect_frame)
        columns["status"].append(status)
        columns["reason"].append(reason)
    for name, values in columns.items():
        out[name] = pd.array(values, dtype="Int64") if name == "detect_frame" else values
    return out


# --- progress and summary -----------------------------------------------------------------


class _RateColumn(ProgressColumn):
    def render(self, task: Task) -> Text:
        speed = task.finished_speed or task.speed
        return Text(f"{speed:.1f} clips/s" if speed else "-- clips/s", style="cyan")


def _progress(quiet: bool) -> Progress:
    return Progress(
        TextColumn("{task.description}"),
        BarColumn(),
        MofNCompleteColumn(),
        _RateColumn(),
        TimeElapsedColumn(),
        TextColumn("ETA"),
        TimeRemainingColumn(),
        console=console,
        disable=quiet,
    )


class _timed:
    def __init__(self, timings: dict[str, float], stage: str):
        self.timings, self.stage = timings, stage

    def __enter__(self) -> None:
        self.start = time.perf_counter()

    def __exit__(self, *exc: object) -> None:
        self.timings[self.stage] += time.perf_counter() - self.start
