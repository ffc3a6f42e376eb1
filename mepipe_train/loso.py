"""Leave-one-subject-out: MacroNet once, then per fold MicroNet (phase 1) and MTMNet (phase 2),
then pooled predictions and metrics.

RUN layout (docs/training.md):
    config.json                      the full configuration (`--config` reads it back)
    macronet.pt / .ckpt / -log.csv   MacroNet, trained once, shared by all folds
    fold-NNN/micronet.pt ...         MicroNet pretrained on that fold's training subjects
    fold-NNN/mtmnet.pt ...           the fine-tuned MicroNet and discriminator
    fold-NNN/predictions.parquet     the held-out clips' predictions (fold done)
    fold-NNN/heldout_by_epoch.parquet  the same after every epoch (diagnostics, report only;
                                     flow models too: mepipe_train.flowfold)
    fold-NNN/inner_selection.json    the epoch chosen on the fold's training subjects
                                     (--select inner-loso; fold-NNN/inner/ its inner folds)
    fold-NNN/timing.json             where the fold's wall-clock went
    fold-NNN/fold.lock               held by the process training the fold
    fold-NNN/reconstruction.png      MicroNet's reconstructions of held-out clips (Figure 3)
    predictions.parquet, metrics.json, confusion.png, reconstruction.png, log.csv
"""

from __future__ import annotations

import contextlib
import dataclasses
import time
from dataclasses import dataclass, field
from functools import partial
from pathlib import Path

import pandas as pd
import torch

from mepipe.atomic import write_bytes, write_json, write_parquet
from mepipe.contract.split_table import check_split, read_split
from mepipe.errors import MepipeError, one_line
from mepipe.lock import exclusive_lock
from mepipe.protocols import load_scheme
from mepipe.tables import read_table
from mepipe_train import report
from mepipe_train.config import TrainConfig, load_config, run_folder
from mepipe_train.data import (
    ClipBytes,
    Fold,
    folds_from_split,
    load_pool,
    shard_locations,
)
from mepipe_train.eidnet import new_eidnet, phase_seed, train_eidnet
from mepipe_train.evaluation import record_split_folds, run_results
from mepipe_train.heldout import HELDOUT, EpochPredictions
from mepipe_train.metrics import confusion, metrics_by_database
from mepipe_train.models import EIDNet
from mepipe_train.mtmnet import predict, train_mtmnet
from mepipe_train.phase import rows_to_csv
from mepipe_train.resident import resident_for
from mepipe_train.runtime import BatchHook, Clock, Runtime, progress_bars, start_run, stop
from mepipe_train.selection import mtmnet_inner_trainer, select_epoch

PREDICTIONS = "predictions.parquet"
METRICS = "metrics.json"
TIMING = "timing.json"  # where a fold's wall-clock went (docs/performance.md)
FOLD_LOCK = "fold.lock"  # held by the one process training the fold


def fold_dir(run: Path, fold: int) -> Path:
    return run / f"fold-{fold:03d}"


@dataclass
class Plan:
    """What a run works on: its folds, classes and where each clip's shard is."""

    folds: dict[int, Fold]
    classes: tuple[str, ...]
    shard_of: dict[str, Path]

    @property
    def clip_count(self) -> int:
        """How many distinct clips the run reads (every fold's train, test and macro)."""
        keys = {i.key for f in self.folds.values() for i in f.train + f.test + f.macro}
        return len(keys)

    @property
    def macro_items(self):
        # Macro clips are on the training side of every fold; take them from any fold.
        return next(iter(self.folds.values())).macro if self.folds else []


def make_plan(config: TrainConfig) -> Plan:
    if config.split:
        table = read_split(config.split)
    else:
        from mepipe.split import loso_split  # built in parallel (docs/splits.md)

        table = check_split(loso_split(config.data, config.protocol, macro=config.macro))
    if not config.data:
        raise MepipeError("--data is required (the data dir of `mepipe ingest`)")
    macro_dbs = set(table.loc[table["domain"] == "macro", "database"])
    unknown = macro_dbs - set(config.macro)
    if unknown:  # the split was made with other macro databases: keep only those asked for
        table = table[~table["database"].isin(unknown)]
    folds = {f.number: f for f in folds_from_split(table)}
    if not folds:
        raise MepipeError("the split table has no folds", config.split or config.data)
    return Plan(
        folds, load_scheme(config.protocol).classes, shard_locations(config.data, table["database"])
    )


def prepare_run(config: TrainConfig, runtime: Runtime) -> Path:
    """Create RUN and save the config; a rerun must describe the same method (resume)."""
    run = run_folder(config)
    if runtime.main:
        config.save(run)
    runtime.barrier()
    return run


@dataclass
class MacroSide:
    """What every fold shares when the losses need macro clips: MacroNet and its clips."""

    net: EIDNet | None = None
    pool: dict[str, ClipBytes] = field(default_factory=dict)


def load_macro_pool(config: TrainConfig, plan: Plan) -> dict[str, ClipBytes]:
    """The macro clips' images (MacroNet's training data, and the macro side of phase 2)."""
    if not plan.macro_items:
        raise MepipeError(
            "losses tri/adv/lir need macro clips, and the split has none "
            "(make the split with --macro, or run --losses cls)",
            config.split or config.data,
        )
    return load_pool([i.key for i in plan.macro_items], plan.shard_of, config.workers)


def train_macronet(
    config: TrainConfig, runtime: Runtime, plan: Plan, run: Path, pool: dict[str, ClipBytes]
) -> EIDNet:
    """MacroNet, trained once per run into RUN/macronet.pt; resumed from its checkpoint, or
    loaded when RUN already holds it (mepipe_train.phase.run_phase)."""
    return train_eidnet(
        config, runtime, plan.macro_items, pool, len(plan.classes), run, "macronet", "macronet",
        phase_seed(config.seed, -1, "macronet"), with_eid=config.eid,
    )  # fmt: skip


def train_micronet(
    config: TrainConfig,
    runtime: Runtime,
    plan: Plan,
    run: Path,
    number: int,
    train_pool: dict[str, ClipBytes],
) -> EIDNet:
    """Phase 1 of fold `number`: MicroNet pretrained on the fold's training subjects (or
    loaded when its folder already holds micronet.pt)."""
    fold = plan.folds[number]
    return train_eidnet(
        config, runtime, fold.train, train_pool, len(plan.classes), fold_dir(run, number),
        "micronet", f"fold {number} micronet", phase_seed(config.seed, number, "micronet"),
    )  # fmt: skip


def load_macro_side(config: TrainConfig, runtime: Runtime, plan: Plan, run: Path) -> MacroSide:
    """MacroNet and its clips where the losses need them: trained, or loaded from RUN."""
    macro = MacroSide()
    if config.needs_macronet:
        macro.pool = load_macro_pool(config, plan)
        if runtime.resident is not None:
            runtime.resident.add(macro.pool)
        macro.net = train_macronet(config, runtime, plan, run, macro.pool)
    return macro


def run_folds(config: TrainConfig, runtime: Runtime, plan: Plan, run: Path) -> None:
    """The one fold loop, of `mepipe-train loso` and of `mepipe-train mtmnet`: MacroNet
    once where the losses need it (trained, or loaded from RUN), then for each selected
    fold both phases and its predictions (a finished fold is skipped); with --jobs K, the
    folds run in K processes (mepipe_train.parallel)."""
    from mepipe_train import parallel  # it runs run_fold: imported here, not at the top

    numbers = config.fold_numbers(sorted(plan.folds))
    pending = [n for n in numbers if not (fold_dir(run, n) / PREDICTIONS).exists()]
    jobs = parallel.job_count(config, runtime, len(pending), plan.clip_count)
    runtime.resident = resident_for(config, runtime, plan.clip_count, jobs)
    macro = load_macro_side(config, runtime, plan, run)
    if jobs > 1:
        runtime.resident = macro = None  # the workers load their own: free the device memory
        if runtime.cuda:
            torch.cuda.empty_cache()
        parallel.run_in_parallel(config, runtime, plan, run, pending, jobs)
        return
    for number in numbers:
        with fold_lock(runtime, run, number):
            run_fold(config, runtime, plan, run, number, macro)


def fold_lock(runtime: Runtime, run: Path, number: int) -> contextlib.AbstractContextManager:
    """One process trains a fold at a time (rank 0 holds it for a torchrun group): two
    runs on one RUN, or --jobs workers, never write the same fold's files."""
    if not runtime.main:
        return contextlib.nullcontext()
    folder = fold_dir(run, number)
    return exclusive_lock(folder / FOLD_LOCK, folder)


def run_fold(
    config: TrainConfig, runtime: Runtime, plan: Plan, run: Path, number: int, macro: MacroSide
) -> None:
    """Both phases of one fold, then its predictions (skipped when already done).
    A flow model (`--model ststnet|offapexnet`) trains its fold in mepipe_train.flowfold."""
    fold = plan.folds[number]
    folder = fold_dir(run, number)
    if (folder / PREDICTIONS).exists():
        return
    if not fold.train:
        raise MepipeError(f"fold {number} has no training clips", config.split or config.data)
    if config.model != "eidnet":
        from mepipe_train.flowfold import run_flow_fold

        return run_flow_fold(config, runtime, plan, run, number)
    began, runtime.clock = time.perf_counter(), Clock()
    with runtime.clock.part("load"):
        pool = load_pool([i.key for i in fold.train + fold.test], plan.shard_of, config.workers)
    if runtime.resident is not None:
        with runtime.clock.part("decode"):
            runtime.resident.add(pool)
    train_pool = {i.key: pool[i.key] for i in fold.train}  # the held-out subject is not in it
    test_pool = {i.key: pool[i.key] for i in fold.test}
    if config.eid:
        micronet = train_micronet(config, runtime, plan, run, number, train_pool)
        if runtime.main:
            draw_reconstructions(micronet, runtime, fold, test_pool, config, folder)
    else:
        torch.manual_seed(phase_seed(config.seed, number, "micronet"))
        micronet = runtime.place(new_eidnet(config, len(plan.classes), len(fold.train_subjects)))
    if config.select == "inner-loso":
        inner = mtmnet_inner_trainer(
            config, runtime, fold, plan.classes, train_pool, macro.net, plan.macro_items,
            macro.pool,
        )  # fmt: skip
        select_epoch(config, runtime, fold, plan.classes, folder, inner)
    # diagnostics: given the held-out clips only after each epoch's weights exist
    diagnostics = EpochPredictions(
        folder / HELDOUT,
        partial(predict, runtime=runtime, items=fold.test, pool=test_pool, config=config,
                fold=number, classes=plan.classes),
        "mtmnet",
    )  # fmt: skip
    micro = train_mtmnet(
        config, runtime, micronet, macro.net, fold.train, plan.macro_items, train_pool,
        macro.pool, folder, f"fold {number} mtmnet", phase_seed(config.seed, number, "mtmnet"),
        after_epoch=diagnostics,
    )  # fmt: skip
    if runtime.main:
        with runtime.clock.part("predict"):
            table = predict(micro, runtime, fold.test, test_pool, config, number, plan.classes)
        write_timing(folder, runtime.clock, time.perf_counter() - began, runtime)
        write_parquet(folder / PREDICTIONS, table)  # last: it marks the fold done
    runtime.barrier()


def write_timing(folder: Path, clock: Clock, total: float, runtime: Runtime) -> None:
    """fold-NNN/timing.json: seconds per part of the fold (load, decode, data waits, steps,
    checkpoints, predict, other) and its total; loso_bench and docs/performance.md read it."""
    seconds = clock.take()
    seconds["other"] = round(total - sum(seconds.values()), 4)
    write_json(
        folder / TIMING,
        {
            "seconds": seconds,
            "total": round(total, 4),
            "device": str(runtime.device),
            "data_on_device": runtime.resident is not None,
        },
    )


@torch.no_grad()
def draw_reconstructions(
    net: EIDNet, runtime: Runtime, fold: Fold, pool: dict, config: TrainConfig, folder: Path
) -> None:
    """Figure 3 for this fold: held-out clips' apex frames and their reconstructions."""
    from mepipe_train.data import decode

    items = fold.test[:4]
    if not items:
        return
    neutral = torch.stack([decode(pool[i.key].neutral, config.image_size) for i in items])
    apex = torch.stack([decode(pool[i.key].expressions[2], config.image_size) for i in items])
    net.eval()
    with runtime.autocast():
        recon = net.reconstruct(runtime.images(neutral), runtime.images(apex))
    net.train()
    report.reconstruction_png(
        apex, recon.float().cpu(), [i.key for i in items], folder / "reconstruction.png"
    )


def run_loso(config: TrainConfig, batch_hook: BatchHook | None = None) -> dict | None:
    """The whole LOSO run of `config` (resuming whatever RUN already holds).

    Returns the metrics on rank 0 (None on other ranks). Several --seeds: one run per
    seed (mepipe_train.seeds).
    """
    if len(config.seed_list) > 1:
        from mepipe_train.seeds import run_seeds

        return run_seeds(config, batch_hook)
    if config.seed_list:  # one seed: today's flat layout
        config = dataclasses.replace(config, seed=config.seed_list[0], seeds="")
    runtime = start_run(config, batch_hook)
    try:
        run = prepare_run(config, runtime)
        plan = make_plan(config)
        if runtime.main:
            record_split_folds(run, sorted(plan.folds))
        with progress_bars(runtime):
            run_folds(config, runtime, plan, run)
        if runtime.main:
            write_json(
                run / "run.json", {"world_size": runtime.world, "device": str(runtime.device)}
            )
            return evaluate(run)
        return None
    finally:
        stop(runtime)


def evaluate(run: str | Path) -> dict:
    """Pool the fold predictions of RUN into predictions.parquet, metrics.json, confusion.png,
    reconstruction.png and log.csv; returns the metrics."""
    run = Path(run)
    config = load_config(run)
    if len(config.seed_list) > 1:
        from mepipe_train.seeds import evaluate_seeds

        return evaluate_seeds(run, config)
    classes = load_scheme(config.protocol).classes
    parts = sorted(run.glob(f"fold-*/{PREDICTIONS}"))
    if not parts:
        raise MepipeError("no fold has finished (no fold-*/predictions.parquet)", run)
    table = pd.concat([read_predictions(p, len(classes)) for p in parts], ignore_index=True)
    write_parquet(run / PREDICTIONS, table)
    metrics = {
        "protocol": config.protocol,
        "classes": list(classes),
        "folds": sorted(int(v) for v in table["fold"].unique()),
        "scores": metrics_by_database(table, len(classes)),
        **run_results(run, config, table, len(classes)),  # fixed, inner, oracle
    }
    write_json(run / METRICS, metrics)
    matrix = confusion(table["true_index"], table["pred_index"], len(classes))
    title = f"{config.protocol}, {len(metrics['folds'])} folds, {len(table)} clips"
    report.confusion_png(matrix, classes, title, run / "confusion.png")
    figures = sorted(run.glob("fold-*/reconstruction.png"))
    if figures:
        write_bytes(run / "reconstruction.png", figures[0].read_bytes())
    logs = [run / "macronet-log.csv"] + sorted(run.glob("fold-*/*-log.csv"))
    rows = []
    for log in logs:
        if log.exists():
            fold = log.parent.name if log.parent != run else ""
            rows += [{"fold": fold, **r} for r in _read_log(log).to_dict("records")]
    write_bytes(run / "log.csv", rows_to_csv(rows))
    return metrics


# What evaluate needs of a fold's predictions (mtmnet.predict writes these and more).
PREDICTION_COLUMNS = ("key", "fold", "database", "true_index", "pred_index")
REPREDICT = "delete it and rerun the run's command to predict that fold again"


def read_predictions(path: Path, n_classes: int) -> pd.DataFrame:
    """One fold's predictions.parquet, checked: a damaged file is named, never half-used."""
    table = read_table(path, "fold predictions", REPREDICT)
    missing = [c for c in PREDICTION_COLUMNS if c not in table.columns]
    if missing:
        raise MepipeError(
            f"fold predictions lack column(s) {', '.join(missing)}; {REPREDICT}", path
        )
    for column in ("fold", "true_index", "pred_index"):
        values = table[column]
        if not pd.api.types.is_integer_dtype(values):
            raise MepipeError(f"column {column} is not whole numbers; {REPREDICT}", path)
        if column != "fold" and len(values) and not values.between(0, n_classes - 1).all():
            row = int((~values.between(0, n_classes - 1)).to_numpy().argmax())
            raise MepipeError(
                f"{column} {values.iloc[row]} is not a class index (0 to {n_classes - 1})",
                path,
                row,
            )
    return table


def _read_log(path: Path) -> pd.DataFrame:
    try:
        return pd.read_csv(path)
    except Exception as exc:  # pandas raises many types for a damaged file
        raise MepipeError(f"cannot read the step log ({one_line(exc)})", path) from None
