"""Every option of a training run, with the paper's defaults (Xia et al. 2020; docs/training.md).

One dataclass holds the whole configuration, so that a run is described by one JSON file
(`RUN/config.json`) that `--config` reads back, and the command line is generated from the
fields (each field's `help` metadata is its `--help` line).
"""

from __future__ import annotations

import dataclasses
import json
import math
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from mepipe.atomic import write_json
from mepipe.errors import MepipeError, OptionError

LOSS_NAMES = ("cls", "tri", "adv", "lir")
BACKBONES = ("resnet18", "resnet34")
DEVICES = ("auto", "cpu", "cuda")
SELECTIONS = ("fixed", "inner-loso")
LIR_CLASSIFIERS = ("micro", "macro")
REC_LOSSES = ("rms", "l2")
# EIDNet/MTMNet (the default) or a flow-based reference model (mepipe_train.flownets).
MODELS = ("eidnet", "ststnet", "offapexnet")
CONFIG_FILE = "config.json"

# Fields that describe where and how fast a run executes, not what it computes: a resumed
# run (or a fold fanned out to another machine) may change them freely.
RUNTIME_FIELDS = frozenset(
    {
        "folds", "device", "workers", "out", "data", "split",
        "jobs", "data_on_device", "checkpoint_every", "compile",
    }
)  # fmt: skip
RESIDENT_CHOICES = ("auto", "on", "off")


def _opt(default: Any, help: str, low: float | None = None, above: bool = False) -> Any:
    """A field with its `--help` line and, for numbers, its lowest allowed value (`low`;
    `above`: the value must be strictly greater)."""
    return field(default=default, metadata={"help": help, "low": low, "above": above})


def _weight(default: float, help: str) -> Any:
    return _opt(default, help, low=0.0)


def _rate(default: float, help: str) -> Any:
    return _opt(default, help, low=0.0, above=True)


@dataclass
class TrainConfig:
    """The complete description of an EIDNet/MTMNet run (the paper's defaults)."""

    # Data
    data: str = _opt("", "data dir made by `mepipe ingest` (<data>/<db>/manifest.parquet, shards/)")
    out: str = _opt("", "run directory: config, checkpoints, logs, predictions, metrics, PNGs")
    protocol: str = _opt("cde", "label scheme of manifests/schemes/ (label_<protocol> column)")
    macro: tuple[str, ...] = _opt(
        ("ckplus",), "macro database(s) guiding MicroNet, comma-separated"
    )
    split: str = _opt("", "split parquet (docs/splits.md); empty: mepipe.split.loso_split")
    folds: str = _opt("", "folds to run, e.g. '0,5-9' (empty: all); lets a scheduler fan out")
    # Method
    model: str = _opt(
        "eidnet", "eidnet (EIDNet/MTMNet), ststnet or offapexnet (on optical flow members)"
    )
    losses: tuple[str, ...] = _opt(
        LOSS_NAMES, "MTMNet losses, any subset of cls,tri,adv,lir with cls"
    )
    eid: bool = _opt(True, "pretrain MicroNet/MacroNet with L_EID (--no-eid skips it)")
    lambda_rec: float = _weight(0.1, "EIDNet weight λ11 of L_rec")
    lambda_sim: float = _weight(0.1, "EIDNet weight λ12 of L_sim")
    lambda_id: float = _weight(0.1, "EIDNet weight λ13 of the adversarial identity loss L_s")
    lambda_tri: float = _weight(1e-3, "MTMNet weight λ21 of L_tri")
    lambda_adv: float = _weight(1e-3, "MTMNet weight λ22 of L_adv")
    lambda_lir: float = _weight(1e-3, "MTMNet weight λ23 of L_LIR")
    eid_lr_encoder: float = _rate(1e-4, "EIDNet encoder learning rate")
    eid_lr_classifier: float = _rate(
        1e-4, "EIDNet expression and identity classifier learning rate"
    )
    eid_lr_decoder: float = _rate(1e-5, "EIDNet decoder learning rate")
    mtm_lr_encoder: float = _rate(1e-5, "MTMNet MicroNet encoder learning rate")
    mtm_lr_discriminator: float = _rate(1e-5, "MTMNet discriminator learning rate")
    mtm_lr_classifier: float = _rate(1e-5, "MTMNet expression classifier learning rate")
    epochs: int = _opt(
        20, "MTMNet epochs per fold (fixed: never chosen by a held-out score)", low=1
    )
    eid_epochs: int = _opt(
        20, "EIDNet pretraining epochs (MicroNet per fold, MacroNet once)", low=1
    )
    max_steps: int = _opt(0, "cap on steps per epoch (0: a full pass); for smoke runs", low=0)
    batch_size: int = _opt(32, "samples per step (per process under torchrun)", low=1)
    margin: float = _opt(1.0, "triplet margin m on L2-normalised expression embeddings", low=0.0)
    expr_dim: int = _opt(256, "expression embedding size", low=1)
    id_dim: int = _opt(256, "identity embedding size", low=1)
    image_size: int = _opt(224, "input size in pixels (a multiple of 32)", low=32)
    backbone: str = _opt("resnet18", "encoder trunk: resnet18 or resnet34")
    weights: str = _opt(
        "imagenet", "backbone init: imagenet (torchvision cache), a .pth PATH, or none"
    )
    flow_epochs: int = _opt(
        0, "epochs of --model ststnet/offapexnet per fold (0: the model's paper value)", low=0
    )
    flow_lr: float = _opt(
        0.0,
        "Adam learning rate of --model ststnet/offapexnet (0: the model's paper value)",
        low=0.0,
    )
    flow_batch_size: int = _opt(
        0, "batch size of --model ststnet/offapexnet (0: the model's paper value)", low=0
    )
    seed: int = _opt(0, "random seed; the same seed gives the same metrics on CPU", low=0)
    # Evaluation and faithfulness (docs/training.md, Honest evaluation)
    seeds: str = _opt(
        "", "run the whole LOSO once per seed, e.g. '0,1,2' (RUN/seed-<s>/); empty: --seed"
    )
    select: str = _opt(
        "fixed",
        "fixed: report the last epoch; inner-loso: also choose an epoch per fold on an inner "
        "split of its own training subjects (costs inner folds x the training)",
    )
    inner_k: int = _opt(
        0, "inner-loso subject groups per fold (0: one per training subject)", low=0
    )
    lir_classifier: str = _opt(
        "micro", "classifier of L_cls' in L_LIR: micro (MicroNet's D_e) or macro (MacroNet's)"
    )
    rec_loss: str = _opt("rms", "L_rec: rms (norm / sqrt(pixels)) or l2 (Eq. 2's plain norm)")
    grad_norms: int = _opt(
        0, "log each MTMNet term's gradient norm on the encoder every N steps (0: off)", low=0
    )
    # Execution
    device: str = _opt("auto", "auto, cpu or cuda (cuda: bf16 autocast and channels_last)")
    workers: int = _opt(2, "DataLoader worker processes per training process", low=0)
    jobs: str = _opt(
        "1",
        "folds trained at once, each in its own process (a number, or auto from GPU "
        "memory and cores); results equal the serial run's (docs/training.md)",
    )
    data_on_device: str = field(
        default="auto",
        metadata={
            "help": "decode each clip once into a uint8 tensor on the device and draw batches "
            "there (auto: on for CUDA when it fits in memory)",
            "low": None,
            "above": False,
            "choices": RESIDENT_CHOICES,
        },
    )
    checkpoint_every: int = _opt(
        1, "save the resumable checkpoint every N epochs (the finished phase always)", low=1
    )
    compile: bool = _opt(False, "torch.compile the networks (and fused Adam on CUDA)")

    def __post_init__(self) -> None:
        self.macro = _as_tuple(self.macro)
        self.losses = _as_tuple(self.losses)
        self.validate()

    def validate(self) -> None:
        """Reject values and option combinations that cannot run, naming the option."""
        for fld in dataclasses.fields(self):
            problem = field_problem(fld.name, getattr(self, fld.name))
            if problem:
                raise OptionError(f"--{fld.name.replace('_', '-')} {problem}")
        unknown = set(self.losses) - set(LOSS_NAMES)
        if unknown or "cls" not in self.losses:
            raise OptionError(
                f"--losses must be a subset of {','.join(LOSS_NAMES)} containing cls, "
                f"got {','.join(self.losses)}"
            )
        if self.backbone not in BACKBONES:
            raise OptionError(f"--backbone must be one of {', '.join(BACKBONES)}")
        if self.model not in MODELS:
            raise OptionError(f"--model must be one of {', '.join(MODELS)}, got {self.model}")
        if self.device not in DEVICES:
            raise OptionError(f"--device must be one of {', '.join(DEVICES)}")
        for name, allowed in (
            ("select", SELECTIONS),
            ("lir_classifier", LIR_CLASSIFIERS),
            ("rec_loss", REC_LOSSES),
        ):
            if getattr(self, name) not in allowed:
                raise OptionError(
                    f"--{name.replace('_', '-')} must be one of {', '.join(allowed)}, "
                    f"got {getattr(self, name)!r}"
                )
        _ = self.seed_list  # reading it checks --seeds
        if self.data_on_device not in RESIDENT_CHOICES:
            raise OptionError(f"--data-on-device must be one of {', '.join(RESIDENT_CHOICES)}")
        if self.model != "eidnet" and self.data_on_device == "on":
            raise OptionError(
                f"--data-on-device on is for --model eidnet (decoded face images); "
                f"--model {self.model} already holds its 28x28 flow inputs in memory"
            )
        if self.jobs != "auto" and not (self.jobs.isdigit() and int(self.jobs) >= 1):
            raise OptionError(f"--jobs must be a number >= 1 or auto, got {self.jobs!r}")
        if self.image_size % 32:
            raise OptionError(
                f"--image-size must be a positive multiple of 32, got {self.image_size}"
            )

    @property
    def seed_list(self) -> list[int]:
        """The seeds of --seeds ([] when empty: one run with --seed)."""
        seeds = []
        for part in self.seeds.split(","):
            part = part.strip()
            if not part:
                continue
            if not part.isdigit() or int(part) >= SEED_LIMIT:
                raise OptionError(
                    f"--seeds must be whole numbers 0 to {SEED_LIMIT - 1}, comma-separated, "
                    f"got '{part}'"
                )
            if int(part) in seeds:
                raise OptionError(f"--seeds names seed {part} twice")
            seeds.append(int(part))
        return seeds

    def uses(self, loss: str) -> bool:
        return loss in self.losses

    @property
    def needs_macronet(self) -> bool:
        """MacroNet only guides tri/adv/lir; a cls-only run never touches macro data, nor
        does a flow model (it trains on the micro training subjects only, like its paper)."""
        return self.model == "eidnet" and any(loss in self.losses for loss in ("tri", "adv", "lir"))

    def to_dict(self) -> dict[str, Any]:
        data = dataclasses.asdict(self)
        data["macro"] = list(self.macro)
        data["losses"] = list(self.losses)
        return data

    def save(self, run_dir: str | Path) -> Path:
        path = Path(run_dir) / CONFIG_FILE
        write_json(path, self.to_dict())
        return path

    def method_differences(self, other: TrainConfig) -> list[str]:
        """Fields (other than runtime ones) where the two configurations differ; [] when
        both describe the same method (a rerun may resume the run)."""
        mine, theirs = self.to_dict(), other.to_dict()
        return [k for k in mine if k not in RUNTIME_FIELDS and mine[k] != theirs[k]]

    def fold_numbers(self, available: list[int]) -> list[int]:
        """The folds `--folds` names (all when empty), checked against those that exist."""
        if not self.folds:
            return list(available)
        wanted: list[int] = []
        for part in self.folds.split(","):
            part = part.strip()
            try:
                if "-" in part:
                    low, high = (int(v) for v in part.split("-", 1))
                    wanted.extend(range(low, high + 1))
                elif part:
                    wanted.append(int(part))
            except ValueError:
                raise OptionError(f"--folds: cannot read '{part}' (use e.g. 0,5-9)") from None
        missing = sorted(set(wanted) - set(available))
        if missing:
            raise OptionError(f"--folds names folds {missing} but the split has {len(available)}")
        return sorted(set(wanted))


def _as_tuple(value: Any) -> Any:
    if isinstance(value, str):
        return tuple(v.strip() for v in value.split(",") if v.strip())
    if isinstance(value, list | tuple) and all(isinstance(v, str) for v in value):
        return tuple(value)
    return value  # field_problem names it


_FIELDS = {fld.name: fld for fld in dataclasses.fields(TrainConfig)}
# A seed feeds torch.Generator.manual_seed(seed * 1_000_003 + epoch), which takes 64 bits.
SEED_LIMIT = 2**32


def field_problem(name: str, value: Any) -> str | None:
    """What is wrong with `value` for option `name` (type, finiteness, range), or None.

    The one place where option values are checked: for the command line, for
    `TrainConfig(...)` in Python and for a `config.json` (whose values are untyped JSON).
    """
    fld = _FIELDS[name]
    kind, low = fld.type, fld.metadata["low"]
    if kind == "bool":
        return None if isinstance(value, bool) else f"must be true or false, got {value!r}"
    if kind == "str":
        return None if isinstance(value, str) else f"must be text, got {value!r}"
    if kind == "tuple[str, ...]":
        ok = isinstance(value, tuple) and all(isinstance(v, str) for v in value)
        return None if ok else f"must be comma-separated names, got {value!r}"
    if isinstance(value, bool) or not isinstance(value, int | float):
        return f"must be a number, got {value!r}"
    if kind == "int" and not isinstance(value, int):
        return f"must be a whole number, got {value!r}"
    if not math.isfinite(value):
        return f"must be a finite number, got {value}"
    above = fld.metadata["above"]
    if low is not None and (value <= low if above else value < low):
        return f"must be {'>' if above else '>='} {low:g}, got {value:g}"
    if name == "seed" and value >= SEED_LIMIT:
        return f"must be below {SEED_LIMIT}, got {value}"
    return None


def load_config(path: str | Path) -> TrainConfig:
    """Read a config written by a run (RUN/config.json, or RUN itself).

    The file is untrusted JSON: every key and value is checked, and any problem is one
    MepipeError naming the file and the key.
    """
    path = Path(path)
    if path.is_dir():
        path = path / CONFIG_FILE
    try:
        data = json.loads(path.read_text(encoding="utf-8"))
    except FileNotFoundError:
        raise MepipeError("configuration file not found", path) from None
    except (OSError, UnicodeDecodeError) as exc:
        raise MepipeError(f"cannot read the configuration ({exc})", path) from None
    except json.JSONDecodeError as exc:
        raise MepipeError(f"not valid JSON: {exc}", path) from None
    if not isinstance(data, dict):
        raise MepipeError(f"must hold a JSON object of options, not {type(data).__name__}", path)
    unknown = sorted(set(data) - _FIELDS.keys())
    if unknown:
        raise MepipeError(f"unknown option(s) {', '.join(unknown)}", path)
    for name, value in data.items():
        if _FIELDS[name].type == "tuple[str, ...]":
            value = _as_tuple(value)  # a list in JSON
        problem = field_problem(name, value)
        if problem:
            raise MepipeError(f"key {name} {problem}", path)
    try:
        return TrainConfig(**data)
    except MepipeError as exc:  # a combination of options that cannot run
        raise MepipeError(exc.message, path) from None


def run_folder(config: TrainConfig) -> Path:
    """RUN of `config`, checked for a resume: a RUN whose config.json describes another
    method is refused (a run or a seed's runs must describe one method throughout)."""
    if not config.out:
        raise MepipeError("--out RUN is required")
    run = Path(config.out)
    saved = run / CONFIG_FILE
    if saved.exists():
        differs = load_config(saved).method_differences(config)
        if differs:
            raise MepipeError(
                f"RUN already holds a run with other {', '.join(differs)}; "
                "resume it with --config RUN/config.json or choose another --out",
                saved,
            )
    return run
