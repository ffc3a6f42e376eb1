"""A deployable model folder (`mepipe-train final --out MODEL`, read by `mepipe predict`).

    MODEL/model.json     the model card (below); written last, so a folder without it is
                         an unfinished `final` run and is refused
    MODEL/classifier.pt  the weights (a state dict, read with torch's weights_only)
    MODEL/train/         the phases' checkpoints and logs (a rerun resumes from them)

The card says everything `predict` needs without the trainer: which classifier plugin
reads the weights (an entry point of the `mepipe.classifiers` group), the class names, the
protocol, the input size, the alignment options the training data was made with (so a
user's video is aligned the same way), and the sha256 of every manifest and shard index
trained on. It is untrusted JSON (a model folder is downloaded): `read_model_card` checks
every field it uses and names the file and the field.
"""

from __future__ import annotations

import json
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

from mepipe.atomic import write_json
from mepipe.errors import MepipeError

MODEL_CARD = "model.json"
WEIGHTS_FILE = "classifier.pt"
# Bumped whenever the card or the weights' layout changes; predict refuses other versions.
MODEL_FORMAT = 1
CLASSIFIER_GROUP = "mepipe.classifiers"


@dataclass(frozen=True)
class ModelCard:
    """What a model folder holds, as `model.json` states it."""

    classifier: str  # entry point name in CLASSIFIER_GROUP (e.g. "mtmnet")
    protocol: str
    classes: tuple[str, ...]
    image_size: int  # the network's input side, pixels
    alignment: dict[str, Any]  # mepipe.shards.options.ShardOptions.to_json() of the data
    mepipe_version: str
    config: dict[str, Any] = field(default_factory=dict)  # the training configuration
    data: dict[str, str] = field(default_factory=dict)  # file (relative to DATA) -> sha256
    format: int = MODEL_FORMAT

    @property
    def crop_size(self) -> int:
        """The side of the aligned crops the training data held (ingest's --size)."""
        return int(self.alignment["size"])

    def to_json(self) -> dict[str, Any]:
        data = asdict(self)
        data["classes"] = list(self.classes)
        return data


def write_model_card(folder: str | Path, card: ModelCard) -> Path:
    path = Path(folder) / MODEL_CARD
    write_json(path, card.to_json())
    return path


def _need(data: dict, name: str, kind: type | tuple[type, ...], path: Path) -> Any:
    value = data.get(name)
    if not isinstance(value, kind) or isinstance(value, bool) and kind is int:
        raise MepipeError(f"field {name} is missing or not valid ({value!r})", path)
    return value


def read_model_card(folder: str | Path) -> ModelCard:
    """The card of a model folder, checked; one MepipeError naming the file otherwise."""
    folder = Path(folder)
    path = folder / MODEL_CARD
    if not folder.is_dir():
        raise MepipeError("model folder not found (make one with `mepipe-train final`)", folder)
    try:
        data = json.loads(path.read_text(encoding="utf-8"))
    except FileNotFoundError:
        raise MepipeError(
            f"not a model folder: it has no {MODEL_CARD} (an unfinished `mepipe-train final`?)",
            folder,
        ) from None
    except (OSError, UnicodeDecodeError, json.JSONDecodeError) as exc:
        raise MepipeError(f"cannot read the model card ({exc})", path) from None
    if not isinstance(data, dict):
        raise MepipeError("the model card is not a JSON object", path)
    version = data.get("format")
    if version != MODEL_FORMAT:
        raise MepipeError(
            f"model format {version!r}, but this mepipe reads format {MODEL_FORMAT}; "
            "train it again with `mepipe-train final` of this version",
            path,
        )
    classes = _need(data, "classes", list, path)
    if not classes or not all(isinstance(c, str) for c in classes):
        raise MepipeError("field classes must be a list of class names", path)
    alignment = _need(data, "alignment", dict, path)
    size = alignment.get("size")
    if not isinstance(size, int) or isinstance(size, bool) or not 16 <= size <= 4096:
        raise MepipeError(f"field alignment.size is not a crop size ({size!r})", path)
    image_size = _need(data, "image_size", int, path)
    if not 16 <= image_size <= 4096:
        raise MepipeError(f"field image_size is not an input size ({image_size})", path)
    data_hashes = data.get("data", {})
    if not isinstance(data_hashes, dict):
        raise MepipeError("field data must map files to sha256", path)
    return ModelCard(
        classifier=_need(data, "classifier", str, path),
        protocol=_need(data, "protocol", str, path),
        classes=tuple(classes),
        image_size=image_size,
        alignment=alignment,
        mepipe_version=_need(data, "mepipe_version", str, path),
        config=_need(data, "config", dict, path),
        data={str(k): str(v) for k, v in data_hashes.items()},
        format=version,
    )
