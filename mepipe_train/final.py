"""`mepipe-train final`: one model trained on every subject, written as a deployable folder,
and the classifier plugin that `mepipe predict` loads from such a folder.

The model is trained exactly as a LOSO fold is (docs/training.md): MacroNet on the macro
clips where the losses need it, MicroNet pretrained with L_EID, MTMNet fine-tuning, the same
options and epochs; only no subject is held out. Its folder (mepipe.contract.model):

    MODEL/train/          config.json, the phases' .pt/.ckpt/-log.csv (a rerun resumes)
    MODEL/classifier.pt   MicroNet's encoder and expression classifier after MTMNet
    MODEL/model.json      the model card, written last

`load_classifier` is registered in setup.cfg as the `mtmnet` entry point of the
`mepipe.classifiers` group: `mepipe` finds it at run time and never imports this package.
"""

from __future__ import annotations

import dataclasses
import io
from collections.abc import Sequence
from pathlib import Path

import cv2
import numpy as np
import torch

from mepipe import __version__
from mepipe.atomic import write_bytes
from mepipe.contract.manifest import manifest_path
from mepipe.contract.model import (
    MODEL_CARD,
    WEIGHTS_FILE,
    ModelCard,
    read_model_card,
    write_model_card,
)
from mepipe.errors import MepipeError, OptionError, one_line
from mepipe.shards.index import INDEX_NAME, read_index, sha256_of
from mepipe_train.checkpoint import load_weights
from mepipe_train.config import RUNTIME_FIELDS, TrainConfig
from mepipe_train.data import Item, decode, load_pool
from mepipe_train.eidnet import new_eidnet, phase_seed, train_eidnet
from mepipe_train.loso import (
    MacroSide,
    Plan,
    load_macro_pool,
    make_plan,
    prepare_run,
    train_macronet,
)
from mepipe_train.models import EIDNet, MicroClassifier
from mepipe_train.mtmnet import train_mtmnet
from mepipe_train.runtime import progress_bars, start, stop

CLASSIFIER = "mtmnet"
TRAIN_DIR = "train"
FINAL_FOLD = -2  # the seed index of the final model's phases (folds are 0.., MacroNet -1)
# Alignment options that change the pixels a network sees: all databases must agree.
ALIGNMENT_KEYS = ("size", "format", "quality", "align")


def all_micro_items(plan: Plan) -> list[Item]:
    """Every micro clip of the split: one fold's training side and its held-out subject."""
    fold = next(iter(plan.folds.values()))
    return sorted({i.key: i for i in fold.train + fold.test}.values(), key=lambda i: i.key)


def data_facts(config: TrainConfig, plan: Plan) -> tuple[dict, dict[str, str]]:
    """The alignment options of the shards trained on (one set: databases must agree) and
    the sha256 of each manifest and shard index, by path relative to DATA."""
    data = Path(config.data)
    folders = sorted({path.parent for path in plan.shard_of.values()})
    options: dict | None = None
    hashes: dict[str, str] = {}
    for folder in folders:
        found = read_index(folder).options
        if options is None:
            options = found
        elif any(found.get(k) != options.get(k) for k in ALIGNMENT_KEYS):
            raise MepipeError(
                f"shards aligned with other options ({', '.join(ALIGNMENT_KEYS)}) than the "
                "other databases; ingest them alike to train one model",
                folder / INDEX_NAME,
            )
        manifest = manifest_path(data, folder.parent.name)
        for path in (manifest, folder / INDEX_NAME):
            hashes[str(path.relative_to(data))] = sha256_of(path)
    if options is None:
        raise MepipeError("the split names no clip with a shard", config.data)
    return options, hashes


def card_config(config: TrainConfig) -> dict:
    """The configuration as the card keeps it: the method, not where or how it ran."""
    return {k: v for k, v in config.to_dict().items() if k not in RUNTIME_FIELDS}


def train_final(config: TrainConfig) -> Path:
    """Train on all subjects into MODEL = config.out (resuming what it holds); returns MODEL."""
    out = Path(config.out)
    if not config.out:
        raise MepipeError("--out MODEL is required")
    if not config.data:
        raise MepipeError("--data DATA is required (the data dir of `mepipe ingest`)")
    if config.model != "eidnet":  # the model card and mepipe predict's classifier are MTMNet's
        raise OptionError(
            f"`mepipe-train final` trains EIDNet/MTMNet only (what `mepipe predict` runs); "
            f"--model {config.model} is for `mepipe-train loso`"
        )
    # The data is checked before MODEL gets its first file.
    plan = make_plan(config)
    items = all_micro_items(plan)
    if not items:
        raise MepipeError("the split has no micro clips to train on", config.split or config.data)
    alignment, hashes = data_facts(config, plan)
    runtime = start(config.device)
    try:
        work = prepare_run(dataclasses.replace(config, out=str(out / TRAIN_DIR)), runtime)
        n_classes = len(plan.classes)
        with progress_bars(runtime):
            macro = MacroSide()
            if config.needs_macronet:
                macro.pool = load_macro_pool(config, plan)
                macro.net = train_macronet(config, runtime, plan, work, macro.pool)
            pool = load_pool([i.key for i in items], plan.shard_of, config.workers)
            if config.eid:
                micronet = train_eidnet(
                    config, runtime, items, pool, n_classes, work, "micronet", "final micronet",
                    phase_seed(config.seed, FINAL_FOLD, "micronet"),
                )  # fmt: skip
            else:
                torch.manual_seed(phase_seed(config.seed, FINAL_FOLD, "micronet"))
                subjects = len({(i.database, i.subject) for i in items})
                micronet = runtime.place(new_eidnet(config, n_classes, subjects))
            micro = train_mtmnet(
                config, runtime, micronet, macro.net, items, plan.macro_items, pool, macro.pool,
                work, "final mtmnet", phase_seed(config.seed, FINAL_FOLD, "mtmnet"),
            )  # fmt: skip
        if runtime.main:
            buffer = io.BytesIO()
            torch.save({k: v.cpu() for k, v in micro.state_dict().items()}, buffer)
            write_bytes(out / WEIGHTS_FILE, buffer.getvalue())
            card = ModelCard(
                classifier=CLASSIFIER,
                protocol=config.protocol,
                classes=tuple(plan.classes),
                image_size=config.image_size,
                alignment=alignment,
                mepipe_version=__version__,
                config=card_config(config),
                data=hashes,
            )
            write_model_card(out, card)  # last: its presence means the folder is complete
        runtime.barrier()
        return out
    finally:
        stop(runtime)


class MtmnetClassifier:
    """The final model as mepipe.predict.classifier.Classifier: class probabilities are the
    mean over the five expression frames, as `mtmnet.predict` scores a held-out clip."""

    def __init__(self, net: MicroClassifier, classes: tuple[str, ...], image_size: int):
        self.net, self.classes, self.image_size = net.eval(), classes, image_size

    def _tensor(self, image: np.ndarray) -> torch.Tensor:
        # Through data.decode, the trainer's own path from encoded image to tensor.
        ok, data = cv2.imencode(".png", cv2.cvtColor(image, cv2.COLOR_RGB2BGR))
        if not ok:
            raise MepipeError("cannot encode an aligned frame for the classifier")
        return decode(data.tobytes(), self.image_size)

    @torch.no_grad()
    def classify(self, neutral: np.ndarray, expressions: Sequence[np.ndarray]) -> np.ndarray:
        frames = torch.stack([self._tensor(e) for e in expressions])
        _, logits = self.net(frames)
        probs = logits.float().softmax(1).mean(0).numpy()
        if not np.isfinite(probs).all():
            raise MepipeError("the model gives non-finite class probabilities")
        return probs


def load_classifier(folder: Path, card: ModelCard | None = None) -> MtmnetClassifier:
    """The `mtmnet` plugin: the network of MODEL/classifier.pt, read with weights_only."""
    folder = Path(folder)
    card = card or read_model_card(folder)
    where = folder / MODEL_CARD
    try:
        config = TrainConfig(**card.config)
    except (TypeError, MepipeError) as exc:
        raise MepipeError(
            f"field config is not a training configuration ({one_line(exc)})", where
        ) from None
    net = EIDNet(
        n_classes=len(card.classes), n_subjects=0, backbone=config.backbone, weights="none",
        expr_dim=config.expr_dim, id_dim=config.id_dim, image_size=card.image_size,
    )  # fmt: skip
    micro = MicroClassifier(net)
    path = folder / WEIGHTS_FILE
    state = load_weights(path, "cpu", "train the model again with `mepipe-train final`")
    try:
        micro.load_state_dict(state)
    except (RuntimeError, TypeError, KeyError, AttributeError) as exc:
        raise MepipeError(
            f"the weights do not fit the model card's network ({one_line(exc)})", path
        ) from None
    return MtmnetClassifier(micro, card.classes, card.image_size)
