"""A clip's sample in a shard: members, the one writer, the one reader (docs/shards.md).

A sample is the members `<key>.neutral.<fmt>`, `<key>.e0.<fmt>` .. `<key>.e4.<fmt>` and
`<key>.json`, contiguous and in that order. A member `casme2__sub01__EP02_01f.neutral.jpg`
belongs to sample `casme2__sub01__EP02_01f` and is its `neutral.jpg`: the key ends at the
first dot (clip keys hold none). Every header has mtime 0, uid/gid 0, empty user and group
names and mode 0444, so equal inputs give byte-identical tars.
"""

from __future__ import annotations

import io
import json
import tarfile
from collections.abc import Iterator, Mapping
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np
from PIL import Image

from mepipe.atomic import atomic_path

NEUTRAL = "neutral"
EXPRESSIONS = ("e0", "e1", "e2", "e3", "e4")
IMAGES = (NEUTRAL, *EXPRESSIONS)  # image members, in tar order
RECORD = "json"  # the clip's facts (docs/shards.md), last member
IMAGE_FORMATS = ("jpg", "png")


def member_names(key: str, fmt: str) -> list[str]:
    """Names of a sample's members, in tar order."""
    return [*(f"{key}.{image}.{fmt}" for image in IMAGES), f"{key}.{RECORD}"]


def _add_member(tar: tarfile.TarFile, name: str, data: bytes) -> None:
    info = tarfile.TarInfo(name)
    info.size, info.mtime, info.mode = len(data), 0, 0o444
    info.uid = info.gid = 0
    info.uname = info.gname = ""
    tar.addfile(info, io.BytesIO(data))


@contextmanager
def shard_writer(path: Path) -> Iterator[tarfile.TarFile]:
    """An open tar at a temporary name, renamed to `path` once complete."""
    with atomic_path(path) as tmp, tarfile.open(tmp, "w", format=tarfile.USTAR_FORMAT) as tar:
        yield tar


def write_sample(
    tar: tarfile.TarFile, key: str, images: Mapping[str, bytes], record: dict[str, Any], fmt: str
) -> None:
    """Add one sample: `images` maps `neutral.<fmt>`, `e0.<fmt>`..`e4.<fmt>` to the
    encoded images; `record` becomes the `json` member."""
    data = dict(images)
    data[RECORD] = json.dumps(record, sort_keys=True).encode()
    for name in member_names(key, fmt):
        _add_member(tar, name, data[name.partition(".")[2]])


@dataclass
class Sample:
    key: str
    members: dict[str, bytes] = field(default_factory=dict)  # "neutral.jpg" -> bytes

    def record(self) -> dict[str, Any]:
        return json.loads(self.members[RECORD])

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
