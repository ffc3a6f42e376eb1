"""`mepipe verify --data DIR`: prove that the shards are exactly what the manifests say.

For every database under DIR that has shards: every shard of the index exists and matches
its sha256, every member decodes as an image of the expected size (and, with flow on, every
flow array is there and decodes as float16 of its documented shape), every usable manifest
row has its sample in the shard it names, and no shard holds a sample the manifest lacks
(or rejected). Each mismatch is printed with the file and sample; any mismatch exits 1.
"""

from __future__ import annotations

import io
import json
import tarfile
from pathlib import Path

from PIL import Image
from rich.progress import Progress

from mepipe.contract.manifest import MANIFEST_NAME, ClipStatus, manifest_paths, read_manifest
from mepipe.contract.sample import ARRAY_EXT, array_shape, decode_array, iter_samples, member_names
from mepipe.errors import MepipeError
from mepipe.shards.index import read_index, sha256_of
from mepipe.shards.plan import SHARDS_DIR, plain


def databases_in(data_dir: Path) -> list[Path]:
    """Database folders of a data directory: those holding a manifest."""
    return [p.parent for p in manifest_paths(data_dir)]


def _check_image(data: bytes, size: int) -> str | None:
    try:
        with Image.open(io.BytesIO(data)) as image:
            image.load()
            if image.size != (size, size):
                return f"is {image.size[0]}x{image.size[1]}, expected {size}x{size}"
    except (OSError, SyntaxError, ValueError) as exc:
        return f"does not decode ({exc})"
    return None


def _check_array(data: bytes, suffix: str, size: int, where: str, key: str) -> list[str]:
    """An array member decodes as float16 of its documented shape (docs/shards.md)."""
    name = suffix.removesuffix(f".{ARRAY_EXT}")
    try:
        decode_array(data, array_shape(name, size), name=f"{key}.{suffix}")
    except ValueError:
        return [f"{where}: {key}.{suffix} is not a member of docs/shards.md"]
    except MepipeError as exc:
        return [f"{where}: {exc}"]
    return []


def verify_database(db_dir: Path, progress: Progress | None = None) -> list[str]:
    """Every mismatch between one database's manifest, index and shards, as messages."""
    db = db_dir.name
    try:
        manifest = read_manifest(db_dir / MANIFEST_NAME, require=("key", "status"))
    except MepipeError as exc:
        return [str(exc)]
    shards_dir = db_dir / SHARDS_DIR
    if "shard" not in manifest.columns:
        return [f"{db}/{MANIFEST_NAME}: has no shard column (ingested with --no-align?)"]
    try:
        index = read_index(shards_dir)
    except MepipeError as exc:
        return [f"{db}: {exc}"]
    size, fmt = index.options["size"], index.options["format"]
    flow = index.options.get("optical_flow") or {}
    pairs = tuple(flow.get("flow_pairs") or ()) if flow.get("flow", "none") != "none" else ()
    problems: list[str] = []
    found: dict[str, str] = {}  # key -> shard file name

    task = progress.add_task(f"verify {db}", total=len(index.shards)) if progress else None
    listed = {entry.name for entry in index.shards}
    for path in sorted(shards_dir.glob("*.tar")):
        if path.name not in listed:
            problems.append(f"{db}/{SHARDS_DIR}/{path.name}: shard is not in index.json")
    for entry in index.shards:
        where = f"{db}/{SHARDS_DIR}/{entry.name}"
        path = shards_dir / entry.name
        if not path.is_file():
            problems.append(f"{where}: shard is missing")
        else:
            digest = sha256_of(path)
            if digest != entry.sha256:
                problems.append(
                    f"{where}: sha256 is {digest[:12]}..., index.json says {entry.sha256[:12]}..."
                )
            problems += _check_shard(path, where, entry.keys, size, fmt, found, pairs)
        if progress and task is not None:
            progress.advance(task)

    for i, row in manifest.iterrows():
        key, status = str(row["key"]), plain(row["status"])
        shard = plain(row["shard"])
        if status == ClipStatus.REJECTED:
            if key in found:
                problems.append(
                    f"{db}/{SHARDS_DIR}/{found[key]}: sample {key} is rejected in the manifest"
                )
            continue
        where = f"{db}/{MANIFEST_NAME}, row {i} ({key})"
        if shard is None:
            problems.append(f"{where}: status {status} but no shard")
        elif key not in found:
            problems.append(f"{where}: no sample in {shard}")
        elif f"{SHARDS_DIR}/{found[key]}" != shard:
            problems.append(f"{where}: sample is in {found[key]}, manifest says {shard}")
    known = set(manifest["key"].astype(str))
    for key, name in sorted(found.items()):
        if key not in known:
            problems.append(f"{db}/{SHARDS_DIR}/{name}: sample {key} is not in the manifest")
    return problems


def _check_shard(
    path: Path,
    where: str,
    keys: list[str],
    size: int,
    fmt: str,
    found: dict[str, str],
    flow_pairs: tuple[str, ...] = (),
) -> list[str]:
    """Members, images and flow arrays of one tar; records where each sample was found."""
    problems = []
    seen = []
    try:
        for sample in iter_samples(path):
            seen.append(sample.key)
            if sample.key in found:
                problems.append(f"{where}: sample {sample.key} also in {found[sample.key]}")
            found[sample.key] = path.name
            names = member_names(sample.key, fmt, flow_pairs)
            expected = {name.partition(".")[2] for name in names}
            if set(sample.members) != expected:
                problems.append(
                    f"{where}: sample {sample.key} has members {sorted(sample.members)}, "
                    f"expected {sorted(expected)}"
                )
            for suffix, data in sorted(sample.members.items()):
                if suffix == "json":
                    try:
                        if json.loads(data).get("key") != sample.key:
                            problems.append(f"{where}: {sample.key}.json names another key")
                    except ValueError:
                        problems.append(f"{where}: {sample.key}.json is not valid JSON")
                elif suffix.endswith(f".{ARRAY_EXT}"):
                    problems += _check_array(data, suffix, size, where, sample.key)
                elif (bad := _check_image(data, size)) is not None:
                    problems.append(f"{where}: {sample.key}.{suffix} {bad}")
    except (tarfile.TarError, OSError, EOFError) as exc:
        problems.append(f"{where}: cannot read the tar ({exc})")
    extra = sorted(set(seen) - set(keys))
    missing = sorted(set(keys) - set(seen))
    if extra:
        problems.append(f"{where}: samples not listed in index.json: {', '.join(extra)}")
    if missing:
        problems.append(f"{where}: samples listed in index.json but absent: {', '.join(missing)}")
    return problems
