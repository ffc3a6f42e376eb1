"""`--seeds 0,1,2`: the whole LOSO once per seed, each a full resumable run in RUN/seed-<s>/,
and their results as mean ± standard deviation (metrics.json `summary`) and per seed.

With one seed (or none) the run keeps the flat layout (RUN/fold-*), as before `--seeds`.
"""

from __future__ import annotations

import dataclasses
from pathlib import Path

import pandas as pd

from mepipe.atomic import write_json, write_parquet
from mepipe.errors import MepipeError
from mepipe.tables import read_table
from mepipe_train.config import TrainConfig, run_folder
from mepipe_train.evaluation import FIXED, predictions_file, seed_summary
from mepipe_train.runtime import BatchHook


def seed_dir(run: Path, seed: int) -> Path:
    return run / f"seed-{seed}"


def seed_config(config: TrainConfig, seed: int) -> TrainConfig:
    """The configuration of one seed's run (its own folder, --seed set, --seeds empty)."""
    return dataclasses.replace(
        config, out=str(seed_dir(Path(config.out), seed)), seed=seed, seeds=""
    )


def run_seeds(config: TrainConfig, batch_hook: BatchHook | None = None) -> dict | None:
    """Each seed's run in turn (a finished one is skipped, an interrupted one resumed),
    then the pooled summary; returns the metrics on the main rank."""
    from mepipe_train.loso import run_loso

    run = run_folder(config)
    config.save(run)
    result = None
    for seed in config.seed_list:
        result = run_loso(seed_config(config, seed), batch_hook)
    return evaluate_seeds(run, config) if result is not None else None


def evaluate_seeds(run: Path, config: TrainConfig) -> dict:
    """Evaluate every seed's folder, then metrics.json with `per_seed` and `summary`, and
    RUN/predictions*.parquet with a `seed` column (what `compare` pairs on)."""
    from mepipe_train.loso import evaluate

    per_seed, missing_seeds = {}, []
    for seed in config.seed_list:
        folder = seed_dir(run, seed)
        if any(folder.glob("fold-*/predictions.parquet")):
            per_seed[seed] = evaluate(folder)
        else:
            missing_seeds.append(seed)
    if not per_seed:
        raise MepipeError(
            "no seed's run has a finished fold (seed-*/fold-*/predictions.parquet)", run
        )
    first = next(iter(per_seed.values()))
    for kind in first["results"]:
        tables = [
            read_table(
                seed_dir(run, s) / predictions_file(kind), f"the seed's {kind} predictions"
            ).assign(seed=s)
            for s in per_seed
            if (seed_dir(run, s) / predictions_file(kind)).exists()
        ]
        write_parquet(run / predictions_file(kind), pd.concat(tables, ignore_index=True))
    metrics = {
        "protocol": config.protocol,
        "classes": first["classes"],
        "seeds": list(per_seed),
        "missing_seeds": missing_seeds,
        "expected_folds": first["expected_folds"],
        "missing_folds": sorted({f for m in per_seed.values() for f in m["missing_folds"]}),
        "summary": seed_summary(per_seed),
        "per_seed": {str(s): m for s, m in per_seed.items()},
        # the first seed's pooled fixed-epoch scores, for tools that read `scores`
        "folds": first["folds"],
        "scores": first["results"][FIXED]["scores"],
    }
    write_json(run / "metrics.json", metrics)
    return metrics
