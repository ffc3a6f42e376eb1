"""`mepipe-train` command line: every TrainConfig field is an option (its help line comes
from the field), `--config FILE` starts from a saved configuration, and options given on
the command line override it."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import click
from rich.console import Console
from rich.table import Table

from mepipe.cli.common import ErrorReportingGroup
from mepipe.cli.options import dataclass_options
from mepipe_train.config import TrainConfig, load_config


def config_options(command):
    """One option per TrainConfig field (mepipe.cli.options), plus --config."""
    command = dataclass_options(TrainConfig, unset=True)(command)
    return click.option(
        "--config",
        "config_file",
        type=click.Path(dir_okay=True),
        default=None,
        help="start from a saved configuration (RUN/config.json or RUN); other options override it",
    )(command)


def make_config(config_file: str | None, options: dict[str, Any]) -> TrainConfig:
    base = load_config(config_file).to_dict() if config_file else {}
    given = {k: v for k, v in options.items() if v is not None}
    return TrainConfig(**{**base, **given})


def print_metrics(metrics: dict) -> None:
    table = Table(title=f"LOSO, protocol {metrics['protocol']}, folds {metrics['folds']}")
    for column in ("part", "clips", "Acc", "F1", "UF1", "UAR"):
        table.add_column(column, justify="left" if column == "part" else "right")
    for part, s in metrics["scores"].items():
        table.add_row(
            part, str(s["samples"]), *(f"{s[k]:.3f}" for k in ("acc", "f1", "uf1", "uar"))
        )
    Console().print(table)


def print_intervals(csv: Path) -> None:
    """The demo's predicted intervals as a table."""
    import pandas as pd

    table = Table(title=f"mepipe predict: {csv}")
    columns = ("interval", "kind", "onset_frame", "apex_frame", "offset_frame", "class", "score")
    for column in columns:
        table.add_column(column, justify="right")
    for row in pd.read_csv(csv, keep_default_na=False).to_dict("records"):
        table.add_row(*(str(row[c]) for c in columns))
    Console().print(table)


@click.group(cls=ErrorReportingGroup)
@click.version_option(package_name="mepipe")
def main() -> None:
    """Train EIDNet/MTMNet (Xia et al., ACM MM 2020) under LOSO from mepipe shards."""


@main.command("loso")
@config_options
def loso_command(config_file: str | None, **options: Any) -> None:
    """Both phases for each fold (MacroNet trained once), then pooled metrics.

    Rerunning with the same RUN resumes from the last checkpoint.
    """
    from mepipe_train.loso import run_loso

    metrics = run_loso(make_config(config_file, options))
    if metrics is not None:
        print_metrics(metrics)


@main.command("eidnet")
@click.option("--role", type=click.Choice(["micro", "macro"]), required=True,
              help="macro: MacroNet on the macro clips (once per RUN); micro: MicroNet on the "
              "training side of each fold of --folds")  # fmt: skip
@config_options
def eidnet_command(role: str, config_file: str | None, **options: Any) -> None:
    """Phase 1 alone: pretrain MacroNet or the folds' MicroNets with L_EID."""
    from mepipe_train import stages

    stages.pretrain(make_config(config_file, options), role)


@main.command("mtmnet")
@config_options
def mtmnet_command(config_file: str | None, **options: Any) -> None:
    """Phase 2 alone: fine-tune each fold's MicroNet under MacroNet, predict the held-out clips.

    Needs the phase-1 results in RUN (`mepipe-train eidnet`), unless --no-eid.
    """
    from mepipe_train import stages

    stages.finetune(make_config(config_file, options))


@main.command("final")
@config_options
def final_command(config_file: str | None, **options: Any) -> None:
    """Train one deployable model on every subject (the phases and options of `loso`, no
    subject held out) into --out MODEL, for `mepipe predict --model MODEL`.

    Rerunning with the same MODEL resumes from the last checkpoint.
    """
    from mepipe_train.final import train_final

    model = train_final(make_config(config_file, options))
    Console(stderr=True).print(f"model -> {model} (model.json, classifier.pt)", markup=False)


@main.command("evaluate")
@click.argument("run", type=click.Path(exists=True, file_okay=False))
def evaluate_command(run: str) -> None:
    """Pool RUN's fold predictions: predictions.parquet, metrics.json, confusion.png, log.csv."""
    from mepipe_train.loso import evaluate

    print_metrics(evaluate(run))


@main.command("demo")
@click.option("--out", required=True, type=click.Path(file_okay=False),
              help="demo folder (without --data) or run directory (with --data)")  # fmt: skip
@click.option("--data", default=None, type=click.Path(exists=True, file_okay=False),
              help="data dir of `mepipe ingest` on the demo releases (default: run `mepipe "
                   "demo --out OUT` first and train into OUT/run)")  # fmt: skip
@click.option("--split", default=None, type=click.Path(exists=True, dir_okay=False),
              help="split parquet (default: made with mepipe.split.loso_split)")  # fmt: skip
def demo_command(out: str, data: str | None, split: str | None) -> None:
    """The README demo: a tiny CPU LOSO (two folds, 64 px, a few steps) on demo data; prints
    the metrics.

    Without --data it first runs the data half (`mepipe demo`: demo releases, ingest with
    aligned shards, verify, split, Table 1, contact sheets) into OUT, then trains into OUT/run.
    """
    from mepipe.cli.demo import run_demo_data
    from mepipe_train.demo import demo_final_predict, demo_loso

    console = Console(stderr=True)
    run = Path(out)
    if data is None:
        written = run_demo_data(Path(out), console)
        data, split, run = str(written.data), str(written.split), Path(out) / "run"
        console.rule("6. tiny CPU LOSO of EIDNet + MTMNet (mepipe-train)")
    print_metrics(demo_loso(data, run, split))
    console.print(f"run -> {run} (metrics.json, confusion.png, reconstruction.png)")
    console.rule("7. final model on all subjects, then `mepipe predict` on a demo video")
    predicted = demo_final_predict(
        data, run / "final", split or run / "split.parquet", macronet=run / "macronet.pt"
    )
    print_intervals(predicted / "intervals.csv")


@main.command("synthetic")
@click.option("--out", required=True, type=click.Path(file_okay=False), help="data dir to write")
@click.option("--size", default=32, show_default=True, type=click.IntRange(16, 1024),
              help="image size in pixels")  # fmt: skip
@click.option("--subjects", default=2, show_default=True, type=click.IntRange(1, 1000),
              help="subjects per database")  # fmt: skip
@click.option("--clips", default=3, show_default=True, type=click.IntRange(1, 1000),
              help="clips per subject")  # fmt: skip
def synthetic_command(out: str, size: int, subjects: int, clips: int) -> None:
    """Write a small rendered data dir (casme2, smic, ckplus) with shards and split.parquet."""
    from mepipe_train.synthetic import SyntheticSpec, build

    spec = SyntheticSpec(
        micro={"casme2": subjects, "smic": subjects},
        macro={"ckplus": subjects},
        clips_per_subject=clips,
        size=size,
    )
    click.echo(build(Path(out), spec))


if __name__ == "__main__":
    main()
