"""The interface between `mepipe predict` and a trained model, and how the model is found.

`mepipe` never imports `mepipe_train` (docs/architecture.md), yet predicts with the models
it trains. So `mepipe` states what it needs, the `Classifier` protocol, and finds an
implementation at run time: the model card names a plugin (`classifier` in model.json),
and the plugin is the entry point of that name in the `mepipe.classifiers` group, which
`mepipe_train` registers in setup.cfg (`mtmnet = mepipe_train.final:load_classifier`).
Another trainer can ship its own models the same way, without a change to `mepipe`.
"""

from __future__ import annotations

from collections.abc import Sequence
from importlib.metadata import entry_points
from pathlib import Path
from typing import Protocol

import numpy as np

from mepipe.contract.model import CLASSIFIER_GROUP, ModelCard
from mepipe.errors import MepipeError, one_line


class Classifier(Protocol):
    """A trained expression classifier, ready to use."""

    classes: tuple[str, ...]

    def classify(self, neutral: np.ndarray, expressions: Sequence[np.ndarray]) -> np.ndarray:
        """Class probabilities (len(classes),) of one sample: the aligned neutral frame and
        the five aligned expression frames, RGB uint8 at the card's crop size."""
        ...


def load_classifier(folder: str | Path, card: ModelCard) -> Classifier:
    """The classifier of model folder `folder`, built by the plugin its card names."""
    found = entry_points(group=CLASSIFIER_GROUP, name=card.classifier)
    if not found:
        raise MepipeError(
            f"the model needs the classifier plugin '{card.classifier}' ({CLASSIFIER_GROUP}), "
            "which is not installed (install mepipe with its trainer, mepipe_train), or "
            "spot without classifying: --no-classify",
            folder,
        )
    try:
        factory = next(iter(found)).load()
    except Exception as exc:  # a broken install: say which plugin, in one line
        raise MepipeError(
            f"cannot load the classifier plugin '{card.classifier}' ({one_line(exc)})"
        ) from None
    classifier = factory(Path(folder), card)
    if tuple(classifier.classes) != card.classes:
        raise MepipeError("the plugin's classes differ from the model card's", folder)
    return classifier


def open_model(folder: str | Path, protocol: str | None = None) -> tuple[ModelCard, Classifier]:
    """The card and classifier of a model folder, checked against this install: the card's
    format (read_model_card), its protocol (must be `protocol` when one is asked for) and
    the protocol's classes, which must be the card's (a scheme file edited since the model
    was trained would silently rename its outputs)."""
    from mepipe.contract.model import MODEL_CARD, read_model_card
    from mepipe.protocols import load_scheme

    card = read_model_card(folder)
    where = Path(folder) / MODEL_CARD
    if protocol is not None and card.protocol != protocol:
        raise MepipeError(
            f"the model was trained for protocol {card.protocol}, not {protocol}", where
        )
    try:
        scheme = load_scheme(card.protocol)
    except MepipeError as exc:
        raise MepipeError(exc.message, where) from None
    if scheme.classes != card.classes:
        raise MepipeError(
            f"the model's classes ({', '.join(card.classes)}) are not those of protocol "
            f"{card.protocol} here ({', '.join(scheme.classes)}): it was trained for another "
            "version of the protocol",
            where,
        )
    return card, load_classifier(folder, card)
