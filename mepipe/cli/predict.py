"""`mepipe predict VIDEO --out OUT [--model MODEL]`: spot and classify expressions in a
user's own video (docs/predict.md). A thin layer over mepipe.predict: options, the model,
the progress bar and the closing summary."""

from __future__ import annotations

from pathlib import Path

import click
import pandas as pd
from rich.console import Console
from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeElapsedColumn

from mepipe.cli.options import dataclass_options, options_from_cli
from mepipe.errors import MepipeError, one_line
from mepipe.predict.pipeline import GivenInterval
from mepipe.spot import SpotOptions
from mepipe.video import MAX_FRAMES

STAGES = {
    "face": "face and alignment",
    "motion": "motion signal",
    "classify": "classify",
    "video": "annotated video",
}
MAX_GIVEN = 10_000


def read_intervals_csv(path: Path) -> list[GivenInterval]:
    """Intervals from a CSV with columns onset and offset (frame indices from 0) and,
    optionally, apex; one MepipeError naming the file and row for anything else."""
    try:
        table = pd.read_csv(path, nrows=MAX_GIVEN + 1)
    except Exception as exc:  # pandas raises many types for a damaged file
        raise MepipeError(f"cannot read the intervals ({one_line(exc)})", path) from None
    missing = [c for c in ("onset", "offset") if c not in table.columns]
    if missing:
        raise MepipeError(f"needs columns onset and offset (missing {', '.join(missing)})", path)
    if len(table) > MAX_GIVEN:
        raise MepipeError(f"more than {MAX_GIVEN} intervals", path)
    given = []
    for row, values in enumerate(table.to_dict("records"), start=2):
        numbers = {}
        for column in ("onset", "apex", "offset"):
            value = values.get(column)
            if column == "apex" and (value is None or pd.isna(value)):
                numbers[column] = None
                continue
            number = pd.to_numeric(value, errors="coerce")
            if pd.isna(number) or number != int(number):
                raise MepipeError(f"{column} {value!r} is not a frame index", path, row)
            numbers[column] = int(number)
        given.append(
            GivenInterval(
                numbers["onset"], numbers["offset"], numbers["apex"], f"{path}, row {row}"
            )
        )
    return given


@click.command("predict")
@click.argument("video", type=click.Path(path_type=Path))
@click.option(
    "--out",
    required=True,
    type=click.Path(path_type=Path),
    help="folder for intervals.csv, timeline.png, sheets/",
)
@click.option(
    "--model",
    type=click.Path(path_type=Path),
    default=None,
    help="model folder of `mepipe-train final` (without it: spotting only)",
)
@click.option("--no-classify", is_flag=True, help="spot only, even with --model")
@click.option("--protocol", default=None, help="refuse a model trained for another protocol")
@click.option(
    "--onset",
    type=click.IntRange(0),
    default=None,
    help="classify this interval (frame index from 0) instead of spotting; needs --offset",
)
@click.option(
    "--offset", type=click.IntRange(0), default=None, help="last frame of the --onset interval"
)
@click.option(
    "--intervals",
    "intervals_csv",
    type=click.Path(exists=True, dir_okay=False, path_type=Path),
    default=None,
    help="CSV of intervals to classify (columns onset, offset, optional apex) instead of spotting",
)
@click.option(
    "--fps",
    type=click.FloatRange(0, min_open=True),
    default=None,
    help="frame rate (default: the video's own; 30 for a folder of frames)",
)
@click.option(
    "--max-frames",
    type=click.IntRange(1),
    default=MAX_FRAMES,
    show_default=True,
    help="read at most this many frames",
)
@click.option("--video-out", is_flag=True, help="also write OUT/annotated.mp4")
@dataclass_options(SpotOptions)
def predict_command(
    video: Path, out: Path, model: Path | None, no_classify: bool, protocol: str | None,
    onset: int | None, offset: int | None, intervals_csv: Path | None, fps: float | None,
    max_frames: int, video_out: bool, **spot: object,
) -> None:  # fmt: skip
    """Spot expressions in VIDEO (a file OpenCV reads, or a folder of numbered frames) and
    classify each with MODEL: OUT/intervals.csv, timeline.png, sheets/, summary.json."""
    from mepipe.predict.classifier import open_model
    from mepipe.predict.outputs import check_out, write_outputs
    from mepipe.predict.pipeline import predict_video

    options = options_from_cli(SpotOptions, spot)
    if (onset is None) != (offset is None):
        raise MepipeError("--onset and --offset go together")
    if onset is not None and intervals_csv is not None:
        raise MepipeError("give --onset/--offset or --intervals, not both")
    given = read_intervals_csv(intervals_csv) if intervals_csv else []
    if onset is not None:
        given = [GivenInterval(onset, offset, None)]  # type: ignore[arg-type]
    check_out(out)
    card = classifier = None
    if model is not None and not no_classify:
        card, classifier = open_model(model, protocol)
    console = Console(stderr=True)
    columns = (
        TextColumn("{task.description}"),
        BarColumn(),
        MofNCompleteColumn(),
        TimeElapsedColumn(),
    )
    with Progress(*columns, console=console, transient=True) as bars:
        tasks: dict[str, int] = {}

        def progress(stage: str, done: int, total: int) -> None:
            if stage not in tasks:
                tasks[stage] = bars.add_task(STAGES.get(stage, stage), total=total)
            bars.update(tasks[stage], completed=done)

        result = predict_video(video, options, classifier, card, given, fps, max_frames, progress)
        write_outputs(result, out, video_out, progress)
    gaps = result.tracking.gaps()
    kinds = [f.interval.kind for f in result.found]
    console.print(
        f"{result.footage.count} frames at {result.footage.fps:g} fps; "
        f"{kinds.count('micro')} micro and {kinds.count('macro')} macro interval(s); "
        f"{len(gaps)} gap(s) without a face ({sum(b - a + 1 for a, b in gaps)} frames) -> {out}",
        markup=False,
        soft_wrap=True,
    )
