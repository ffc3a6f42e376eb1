"""`mepipe ingest`: one raw release in, one manifest (and shards) out.

Stages, each with one job:
  adapter.parse()      release on disk -> ClipRecords (rejected clips carry a reason)
  apex                 no apex annotated (SMIC, MMI without markers): --apex-method;
                       an apex a sheet or markers leave unusable: estimated, flagged
  select_frames        neutral + five apex-centred frames (flags short / incomplete clips)
  validate             the frames a clip will use exist and decode (else: rejected)
  label schemes        every protocol's class, or the reason it leaves the clip out
  write_shards         align faces, write WebDataset shards (mepipe.shards; not --no-align)
  manifest + report    written beside the old version, which they then replace in one step
                       (mepipe.staging); the command (mepipe.cli.ingest) prints a summary
"""

from __future__ import annotations

import json
from collections.abc import Callable
from dataclasses import asdict, dataclass, replace
from pathlib import Path
from typing import Any

import pandas as pd
from rich.console import Console
from rich.progress import track

from mepipe import __version__
from mepipe.adapters import AdapterOptions, open_release
from mepipe.apex import (
    apply_apex_method,
    check_apex_method,
    estimate_apex,
    needs_estimate,
    needs_method,
)
from mepipe.atomic import write_json, write_parquet
from mepipe.contract.manifest import FRAME_COLUMNS, MANIFEST_NAME, ClipStatus
from mepipe.errors import MepipeError
from mepipe.frames import select_frames
from mepipe.images import read_frames
from mepipe.protocols import all_schemes, database_info
from mepipe.records import ClipRecord, FrameSelection, IngestReport, Rejection
from mepipe.shards import ShardOptions, write_shards
from mepipe.shards.plan import SHARDS_DIR
from mepipe.shards.write import ShardRun
from mepipe.staging import REPORT, DatabaseOutput, database_output
from mepipe.untrusted import markup_safe


@dataclass(frozen=True)
class IngestOptions:
    # The release's own options (Adapter.Options; mepipe.adapters.adapter_options builds
    # them); None: the release's defaults.
    adapter: AdapterOptions | None = None
    # How to choose an apex the release does not annotate (SMIC, MMI without markers).
    apex_method: str = "midpoint"
    # Align faces and write shards (False: `--no-align`, the manifest only). Not to be
    # confused with ShardOptions.align, the alignment mode (`clip` or `per-frame`).
    align_faces: bool = True


def validate(record: ClipRecord, selection: FrameSelection) -> str | None:
    """Why the clip's chosen frames cannot be used (missing, unreadable, truncated), or None."""
    numbers = sorted({selection.neutral, *selection.expression})
    source = record.source
    try:
        read_frames(numbers, source.numbers, source.paths, source.video)
    except MepipeError as exc:
        return str(exc)
    return None


def clip_row(record: ClipRecord) -> dict[str, Any]:
    """The manifest row of one clip: its record, its chosen frames and every scheme's label."""
    selection = None
    status, reason = ClipStatus.OK, record.reject_reason
    if reason is None:
        try:
            selection = select_frames(record)
        except ValueError as exc:
            reason = str(exc)
    if reason is None and selection is not None:
        reason = validate(record, selection)
    flags = [f for f in (record.flag, selection.flag if selection else None) if f]
    if reason is not None:
        status = ClipStatus.REJECTED
    elif flags:
        status, reason = ClipStatus.FLAGGED, "; ".join(flags)
    usable = selection is not None and status != ClipStatus.REJECTED
    row: dict[str, Any] = {
        "key": record.key,
        "database": record.database,
        "kind": database_info(record.database)["kind"],
        "subject": record.subject,
        "clip": record.clip,
        "label": record.label,
        "frame_numbers": list(record.source.numbers),
        "frame_paths": list(record.source.paths),
        "video": record.source.video,
        "onset": record.onset,
        "apex": record.apex,
        "offset": record.offset,
        "apex_source": str(record.apex_source),
        "fps": float(record.fps),
        "width": record.width,
        "height": record.height,
        "action_units": record.action_units,
        "extra": json.dumps(record.extra, sort_keys=True),
        "neutral_frame": selection.neutral if usable else None,
        "expression_frames": list(selection.expression) if usable else [],
        "status": status.value,
        "reason": reason,
    }
    for scheme in all_schemes():
        label, excluded = scheme.label_for(
            record.database, record.subject, record.clip, record.label, record.extra.get("subset")
        )
        row[f"label_{scheme.name}"] = label
        row[f"excluded_{scheme.name}"] = excluded
    return row


def build_manifest(records: list[ClipRecord], console: Console | None = None) -> pd.DataFrame:
    """One row per clip, in key order; checking frames decodes six images per clip, which
    takes a while on large releases (SAMM's 2040x1088 frames), hence the progress bar."""
    ordered = sorted(records, key=lambda r: r.key)
    rows = [
        clip_row(r)
        for r in track(
            ordered, description="Choosing and checking frames", console=console, transient=True
        )
    ]
    frame = pd.DataFrame(rows)
    for column in FRAME_COLUMNS:
        frame[column] = frame[column].astype("Int64")
    return frame


def choose_apexes(records: list[ClipRecord], apex_method: str, console: Console) -> None:
    """Set every apex that is not annotated: by `apex_method` where the release annotates
    none (SMIC, MMI without markers; recorded in apex_source), by max-diff where a sheet or a
    marker file leaves it unusable (the clip is flagged). Both may decode whole clips, hence
    the progress bar."""
    check_apex_method(apex_method)
    pending = [r for r in records if needs_method(r) or needs_estimate(r)]
    for record in track(
        pending, description="Estimating apex frames", console=console, transient=True
    ):
        if needs_estimate(record):
            estimate_apex(record)
        else:
            apply_apex_method(record, apex_method)


def build_report(database: str, root: Path, manifest: pd.DataFrame, parsed: Any) -> IngestReport:
    report = IngestReport(database=database, root=str(root))
    report.clips_found = len(manifest)
    usable = manifest[manifest.status != ClipStatus.REJECTED]
    report.clips_accepted = len(usable)
    report.labels = {str(k): int(v) for k, v in usable.label.value_counts().sort_index().items()}
    for row in manifest.itertuples():
        if row.status == ClipStatus.REJECTED:
            report.rejected.append(Rejection(row.key, row.reason))
        elif row.status == ClipStatus.FLAGGED:
            report.flagged.append(Rejection(row.key, row.reason))
    report.unlabelled = list(parsed.unlabelled)
    report.stray_files = list(parsed.stray_files)
    report.notes = list(parsed.notes)
    return report


def ingest_database(
    database: str,
    raw_root: str | Path,
    data_dir: str | Path,
    options: IngestOptions | None = None,
    shard_options: ShardOptions | None = None,
    workers: int | None = None,
    console: Console | None = None,
    shard_summary: Callable[[str, ShardRun], None] | None = None,
) -> IngestReport:
    """Ingest one release into `<data_dir>/<database>/` and return the report (which
    `mepipe.cli.ingest.print_summary` shows); `shard_summary` receives the alignment's
    counts and stage timings (`mepipe.shards.write_shards`).

    One run per database at a time (a second fails at once, naming the first); the new
    version replaces the old one only once complete, so a failed run changes nothing.
    """
    options = options or IngestOptions()
    console = console or Console(stderr=True)
    adapter = open_release(database, raw_root, options.adapter)
    options = replace(options, adapter=adapter.options)  # the report names every choice
    with database_output(data_dir, database) as output:
        with console.status(f"Reading the {adapter.title} release at {markup_safe(raw_root)}"):
            parsed = adapter.parse()
        if not parsed.records:
            raise MepipeError(f"no {adapter.title} clips found in the release", raw_root)
        choose_apexes(parsed.records, options.apex_method, console)
        manifest = build_manifest(parsed.records, console)
        try:
            report = write_version(
                output,
                manifest,
                parsed,
                Path(raw_root),
                options,
                shard_options,
                workers,
                shard_summary,
            )
        except MepipeError as exc:
            if not output.live.exists():
                raise
            note = f"{exc.message}; {output.live} is unchanged"
            raise MepipeError(note, exc.path, exc.row) from None
    return report


def write_version(
    output: DatabaseOutput,
    manifest: pd.DataFrame,
    parsed: Any,
    raw_root: Path,
    options: IngestOptions,
    shard_options: ShardOptions | None,
    workers: int | None,
    shard_summary: Callable[[str, ShardRun], None] | None = None,
) -> IngestReport:
    """Shards, manifest and report of the new version, built beside the live one, which
    they then replace in one step (mepipe.staging). A file that cannot be written (full
    disk, read-only folder) raises MepipeError naming it."""
    shard_options = shard_options or ShardOptions()
    try:
        stage = output.prepare(keep_shards=options.align_faces)
        if options.align_faces:
            reuse = output.live / SHARDS_DIR
            manifest = write_shards(
                stage, manifest, shard_options, workers, reuse_from=reuse, summary=shard_summary
            )
        write_parquet(stage / MANIFEST_NAME, manifest)
        report = build_report(output.database, raw_root, manifest, parsed)
        report.provenance = {
            "mepipe": __version__,
            "ingest": asdict(options),
            "shards": asdict(shard_options) if options.align_faces else None,
        }
        write_json(stage / REPORT, asdict(report))
        output.publish()
    except OSError as exc:
        where = exc.filename or output.staging
        raise MepipeError(f"cannot write ({exc.strerror or exc})", where) from None
    return report
