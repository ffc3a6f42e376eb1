"""A clip's sample in a shard: members, the one writer, the one reader (docs/shards.md).

A sample is the members `<key>.neutral.<fmt>`, `<key>.e0.<fmt>` .. `<key>.e4.<fmt>`, with
optical flow on (`--flow`) the `<key>.offset.<fmt>` image (apex->offset pair only) and the
flow arrays (`<key>.flow.npy`, `<key>.strain.npy`, `<key>.magnitude.npy`, and their
`_offset` twins), then `<key>.json`, contiguous and in that order. A member `casme2__sub01__EP02_01f.neutral.jpg`
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
from mepipe.errors import MepipeError

NEUTRAL = "neutral"
EXPRESSIONS = ("e0", "e1", "e2", "e3", "e4")
IMAGES = (NEUTRAL, *EXPRESSIONS)  # image members, in tar order
RECORD = "json"  # the clip's facts (docs/shards.md), last member
IMAGE_FORMATS = ("jpg", "png")


# Optical flow members (docs/shards.md "Flow members"). Flow fields are float16 arrays in
# pixels at the crop size, flow from the first frame of the pair to the second, OpenCV's
# sign convention: u (channel 0) positive to the right, v (channel 1) positive downwards,
# such that first[y, x] ~ second[y + v, x + u].
OFFSET = "offset"  # the aligned offset frame, kept with the apex-offset pair
FLOW = "flow"  # (2, S, S): [u, v]
STRAIN = "strain"  # (S, S): optical strain magnitude
MAGNITUDE = "magnitude"  # (S, S): sqrt(u^2 + v^2)
FLOW_FIELDS = (FLOW, STRAIN, MAGNITUDE)
ONSET_APEX = "onset-apex"  # neutral (onset) -> apex (e2)
APEX_OFFSET = "apex-offset"  # apex (e2) -> offset
FLOW_PAIRS = (ONSET_APEX, APEX_OFFSET)  # the pairs, in tar order
PAIR_SUFFIX = {ONSET_APEX: "", APEX_OFFSET: "_offset"}
FLOW_MEMBERS = tuple(f + PAIR_SUFFIX[ONSET_APEX] for f in FLOW_FIELDS)  # flow, strain, magnitude
OFFSET_FLOW_MEMBERS = tuple(f + PAIR_SUFFIX[APEX_OFFSET] for f in FLOW_FIELDS)
ARRAY_EXT = "npy"
ARRAY_DTYPE = np.dtype("<f2")  # little-endian float16, the one dtype of array members


def flow_members(flow_pairs: tuple[str, ...] | list[str] = ()) -> tuple[str, ...]:
    """The array members (names without `.npy`) of the given flow pairs, in tar order."""
    unknown = [p for p in flow_pairs if p not in FLOW_PAIRS]
    if unknown:
        raise ValueError(f"unknown flow pair {unknown[0]!r}; expected one of {FLOW_PAIRS}")
    return tuple(f + PAIR_SUFFIX[p] for p in FLOW_PAIRS if p in flow_pairs for f in FLOW_FIELDS)


def array_shape(name: str, size: int) -> tuple[int, ...]:
    """The shape of array member `name` (`flow`, `strain_offset`, ...) at crop side `size`."""
    field_name = name.removesuffix(PAIR_SUFFIX[APEX_OFFSET])
    if field_name not in FLOW_FIELDS:
        raise ValueError(f"no array member {name!r}")
    return (2, size, size) if field_name == FLOW else (size, size)


def member_names(key: str, fmt: str, flow_pairs: tuple[str, ...] | list[str] = ()) -> list[str]:
    """Names of a sample's members, in tar order: images, the offset image (apex-offset
    pair), the flow arrays, the json record."""
    images = [*IMAGES, OFFSET] if APEX_OFFSET in flow_pairs else list(IMAGES)
    return [
        *(f"{key}.{image}.{fmt}" for image in images),
        *(f"{key}.{name}.{ARRAY_EXT}" for name in flow_members(flow_pairs)),
        f"{key}.{RECORD}",
    ]


def pairs_of(arrays: Mapping[str, Any]) -> tuple[str, ...]:
    """The flow pairs whose members `arrays` holds (keys without `.npy`)."""
    return tuple(p for p in FLOW_PAIRS if any(name in arrays for name in flow_members((p,))))


def encode_array(a: np.ndarray) -> bytes:
    """An array member's bytes: `.npy` (np.save, no pickle), little-endian float16, C order,
    so equal arrays give byte-identical members."""
    out = io.BytesIO()
    np.save(out, np.ascontiguousarray(a, dtype=ARRAY_DTYPE), allow_pickle=False)
    return out.getvalue()


def decode_array(
    data: bytes,
    shape: tuple[int, ...] | None = None,
    dtype: Any = np.float16,
    name: str = "array member",
) -> np.ndarray:
    """An array member's bytes back as an array, refusing (MepipeError naming `name`) a file
    that is not `.npy`, holds pickled objects, has another dtype than `dtype` (little-endian)
    or another shape than `shape`. The header is checked before the data is read, and the data
    must be exactly as long as the header says, so a hostile header cannot claim gigabytes."""
    want = np.dtype(dtype).newbyteorder("<")
    stream = io.BytesIO(data)
    try:
        version = np.lib.format.read_magic(stream)
        header = (
            np.lib.format.read_array_header_1_0
            if version == (1, 0)
            else np.lib.format.read_array_header_2_0
        )
        found_shape, fortran, found_dtype = header(stream)
    except (ValueError, SyntaxError, EOFError) as exc:
        raise MepipeError(f"not a .npy array ({exc})", name) from None
    if found_dtype.hasobject or found_dtype != want:
        raise MepipeError(f"dtype {found_dtype.str}, expected {want.str}", name)
    if fortran:
        raise MepipeError("Fortran-ordered array, expected C order", name)
    if shape is not None and tuple(found_shape) != tuple(shape):
        raise MepipeError(f"shape {tuple(found_shape)}, expected {tuple(shape)}", name)
    body = len(data) - stream.tell()
    if body != int(np.prod(found_shape, dtype=np.int64)) * want.itemsize:
        raise MepipeError(f"{body} data bytes do not match shape {tuple(found_shape)}", name)
    stream.seek(0)
    try:
        return np.load(stream, allow_pickle=False)
    except ValueError as exc:
        raise MepipeError(f"cannot read the array ({exc})", name) from None


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
    tar: tarfile.TarFile,
    key: str,
    images: Mapping[str, bytes],
    record: dict[str, Any],
    fmt: str,
    arrays: Mapping[str, np.ndarray] | None = None,
) -> None:
    """Add one sample: `images` maps `neutral.<fmt>`, `e0.<fmt>`..`e4.<fmt>` (and
    `offset.<fmt>` with the apex-offset pair) to the encoded images; `arrays` maps the flow
    members (`flow`, `strain`, ... without `.npy`) to arrays, encoded by `encode_array`;
    `record` becomes the `json` member."""
    arrays = arrays or {}
    data = dict(images)
    data.update({f"{name}.{ARRAY_EXT}": encode_array(a) for name, a in arrays.items()})
    data[RECORD] = json.dumps(record, sort_keys=True).encode()
    names = member_names(key, fmt, pairs_of(arrays))
    suffixes = [name.partition(".")[2] for name in names]
    if sorted(suffixes) != sorted(data):
        raise ValueError(f"sample {key}: members {sorted(data)}, expected {sorted(suffixes)}")
    for name, suffix in zip(names, suffixes, strict=True):
        _add_member(tar, name, data[suffix])


@dataclass
class Sample:
    key: str
    members: dict[str, bytes] = field(default_factory=dict)  # "neutral.jpg" -> bytes

    def record(self) -> dict[str, Any]:
        return json.loads(self.members[RECORD])

    def image(self, name: str) -> np.ndarray:
        """An image member (`neutral`, `e0`..`e4`, `offset`) as RGB uint8."""
        (data,) = [v for k, v in self.members.items() if k.split(".")[0] == name]
        with Image.open(io.BytesIO(data)) as image:
            return np.asarray(image.convert("RGB"))

    def has_array(self, name: str) -> bool:
        return f"{name}.{ARRAY_EXT}" in self.members

    def array(self, name: str, shape: tuple[int, ...] | None = None) -> np.ndarray:
        """An array member (`flow`, `strain`, `magnitude`, `flow_offset`, ...) as float16,
        checked by `decode_array` (shape too, if given)."""
        member = f"{name}.{ARRAY_EXT}"
        if member not in self.members:
            raise MepipeError(f"sample has no {member} member (ingest with --flow)", self.key)
        return decode_array(self.members[member], shape, name=f"{self.key}.{member}")


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
