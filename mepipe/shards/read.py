"""Read samples back from a shard, the way WebDataset groups them (`verify`, `show`).

A member `casme2__sub01__EP02_01f.neutral.jpg` belongs to sample `casme2__sub01__EP02_01f`
and is its `neutral.jpg`: the key ends at the first dot (clip keys hold none).
"""

from __future__ import annotations

import io
import json
import tarfile
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np
from PIL import Image


@dataclass
class Sample:
    key: str
    members: dict[str, bytes] = field(default_factory=dict)  # "neutral.jpg" -> bytes

    def record(self) -> dict[str, Any]:
        return json.loads(self.members["json"])

    def image(self, name: str) -> np.ndarray:
        """An image member (`neutral`, `e0`..`e4`) as RGB uint8."""
        (data,) = [v for k, v in self.members.items() if k.split(".")[0] == name]
        with Image.open(io.BytesIO(data)) as image:
            return np.asarray(image.convert("RGB"))


def iter_samples(path: Path, keys: set[str] | None = None) -> Iterator[Sample]:
    """Samples of a tar in file order (only `keys` if given). Members of one sample are
    contiguous in shards that mepipe writes; a sample split apart comes out twice."""
    current: Sample | None = None
    with tarfile.open(path) as tar:
        for member in tar:
            if not member.isfile():
                continue
            key, _, suffix = member.name.partition(".")
            if keys is not None and key not in keys:
                continue
            if current is None or current.key != key:
                if current is not None:
                    yield current
                current = Sample(key)
            handle = tar.extractfile(member)
            assert handle is not None
            current.members[suffix] = handle.read()
    if current is not None:
        yield current
