"""The two phases as separate commands (`mepipe-train eidnet`, `mepipe-train mtmnet`), writing
the same RUN layout as `mepipe-train loso`, so a run can be built up phase by phase."""

from __future__ import annotations

from mepipe.errors import MepipeError, OptionError
from mepipe_train.config import TrainConfig
from mepipe_train.data import load_pool
from mepipe_train.evaluation import record_split_folds
from mepipe_train.loso import (
    evaluate,
    fold_dir,
    load_macro_pool,
    make_plan,
    prepare_run,
    run_folds,
    train_macronet,
    train_micronet,
)
from mepipe_train.runtime import progress_bars, start_run, stop


def refuse_seeds(config: TrainConfig) -> None:
    if len(config.seed_list) > 1:
        raise OptionError(
            "--seeds with several seeds runs with `mepipe-train loso` only (a phase command "
            "works on one run: give it --out RUN/seed-<s> --seed <s>)"
        )


def refuse_flow_model(config: TrainConfig) -> None:
    """The flow models (--model ststnet|offapexnet) have one phase: `mepipe-train loso`."""
    if config.model != "eidnet":
        raise MepipeError(
            f"--model {config.model} trains in one phase per fold: run "
            f"`mepipe-train loso --model {config.model} ...` (eidnet and mtmnet are "
            "EIDNet/MTMNet's phases)"
        )


def pretrain(config: TrainConfig, role: str) -> None:
    """Phase 1 for MacroNet (`macro`) or for the MicroNet of each selected fold (`micro`)."""
    refuse_seeds(config)
    refuse_flow_model(config)
    runtime = start_run(config)
    try:
        run = prepare_run(config, runtime)
        plan = make_plan(config)
        with progress_bars(runtime):
            if role == "macro":
                train_macronet(config, runtime, plan, run, load_macro_pool(config, plan))
                return
            if not config.eid:
                raise MepipeError("--no-eid skips MicroNet pretraining: nothing to do")
            for number in config.fold_numbers(sorted(plan.folds)):
                keys = [i.key for i in plan.folds[number].train]
                pool = load_pool(keys, plan.shard_of, config.workers)
                train_micronet(config, runtime, plan, run, number, pool)
    finally:
        stop(runtime)


def finetune(config: TrainConfig) -> dict | None:
    """Phase 2 and predictions for each selected fold; phase 1 must be in RUN already, and
    the fold loop of `loso` (run_folds) loads it from there instead of training it."""
    refuse_seeds(config)
    refuse_flow_model(config)
    runtime = start_run(config)
    try:
        run = prepare_run(config, runtime)
        plan = make_plan(config)
        numbers = config.fold_numbers(sorted(plan.folds))
        if runtime.main:
            record_split_folds(run, sorted(plan.folds))
        needed = [run / "macronet.pt"] if config.needs_macronet else []
        if config.eid:
            needed += [fold_dir(run, n) / "micronet.pt" for n in numbers]
        for path in needed:
            if not path.exists():
                role = "macro" if path.name == "macronet.pt" else "micro"
                raise MepipeError(
                    f"phase 1 missing: run `mepipe-train eidnet --role {role}` first", path
                )
        with progress_bars(runtime):
            run_folds(config, runtime, plan, run)
        return evaluate(run) if runtime.main else None
    finally:
        stop(runtime)
