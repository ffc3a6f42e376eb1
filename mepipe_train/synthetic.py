"""A small data dir in the exact formats of `mepipe ingest`, rendered from the demo face.

For tests, benchmarks and the GPU check, which must not wait for the full pipeline (demo
releases -> ingest -> align -> shards): manifests (docs/manifest.md), subject shards with
the members of docs/shards.md and their index.json, and a LOSO split table (docs/splits.md). Faces come from
`mepipe.demo.face.render_clip`: micro clips move a few per cent of the frame, macro clips
several times more, with the same motions per label, so macro data can teach micro.
"""

from __future__ import annotations

import io
import json
import tarfile
from dataclasses import dataclass, field
from pathlib import Path

import cv2
import numpy as np
import pandas as pd

from mepipe.atomic import atomic_path, write_parquet
from mepipe.demo.face import Look, render_clip
from mepipe.protocols import database_info, load_scheme
from mepipe.records import clip_key
from mepipe.shards.index import ShardEntry, ShardIndex, sha256_of, write_index
from mepipe.shards.options import ShardOptions

# Source labels each database's clips cycle through (its own vocabulary, see databases.toml).
LABELS = {
    "casme2": ("disgust", "happiness", "surprise", "repression"),
    "smic": ("negative", "positive", "surprise"),
    "samm": ("anger", "happiness", "surprise", "contempt"),
    "ckplus": ("disgust", "happiness", "surprise", "anger", "sadness"),
    "oulu": ("anger", "happiness", "surprise", "disgust"),
    "mmi": ("fear", "happiness", "surprise", "anger"),
}
SUBJECT_NAMES = {
    "casme2": "sub{:02d}",
    "smic": "s{}",
    "samm": "{:03d}",
    "ckplus": "S{:03d}",
    "oulu": "P{:03d}",
    "mmi": "S{:03d}",
}
FRAMES = 9  # rendered per clip: neutral first, apex in the middle
EXPRESSION = range(2, 7)  # the five frames centred on the apex (frame 4)


@dataclass
class SyntheticSpec:
    micro: dict[str, int] = field(default_factory=lambda: {"casme2": 2, "smic": 2})
    macro: dict[str, int] = field(default_factory=lambda: {"ckplus": 2})
    clips_per_subject: int = 3
    size: int = 32
    micro_amplitude: float = 0.03  # landmark displacement at the apex, fraction of the size
    macro_amplitude: float = 0.12
    protocol: str = "cde"


def _jpeg(image: np.ndarray) -> bytes:
    ok, data = cv2.imencode(
        ".jpg", cv2.cvtColor(image, cv2.COLOR_RGB2BGR), [cv2.IMWRITE_JPEG_QUALITY, 95]
    )
    assert ok
    return data.tobytes()


def _write_shard(path: Path, samples: list[tuple[str, list[tuple[str, bytes]]]]) -> None:
    """A tar with the members in docs/shards.md order and reproducible headers."""
    with atomic_path(path) as tmp, tarfile.open(tmp, "w", format=tarfile.USTAR_FORMAT) as tar:
        for key, members in samples:
            for member, data in members:
                info = tarfile.TarInfo(f"{key}.{member}")
                info.size, info.mtime, info.mode = len(data), 0, 0o644
                tar.addfile(info, io.BytesIO(data))


def _index_entry(path: Path, subject: str, samples: list) -> ShardEntry:
    """The shard's index.json entry, as `mepipe ingest` writes it (the trainer checks it)."""
    return ShardEntry(
        name=path.name,
        subject=subject,
        keys=[key for key, _ in samples],
        sha256=sha256_of(path),
        bytes=path.stat().st_size,
        inputs="synthetic",
    )


def build(data_dir: str | Path, spec: SyntheticSpec | None = None) -> Path:
    """Write manifests, shards and `split.parquet` under `data_dir`; returns the split path."""
    spec = spec or SyntheticSpec()
    data_dir = Path(data_dir)
    scheme = load_scheme(spec.protocol)
    split_rows: list[dict] = []
    look_index = 0
    for database, subjects in {**spec.micro, **spec.macro}.items():
        kind = database_info(database)["kind"]
        amplitude = (spec.micro_amplitude if kind == "micro" else spec.macro_amplitude) * spec.size
        manifest_rows, entries = [], []
        for s in range(1, subjects + 1):
            subject = SUBJECT_NAMES[database].format(s)
            look = Look.for_subject(look_index)
            look_index += 1
            samples = []
            shard = f"shards/{subject}-000000.tar"
            for c in range(spec.clips_per_subject):
                label = LABELS[database][(c + s) % len(LABELS[database])]
                clip = f"{subject}_{c:02d}"
                key = clip_key(database, subject, clip)
                frames = render_clip(
                    look, label, FRAMES, FRAMES // 2, amplitude, (spec.size, spec.size)
                )
                mapped, reason = scheme.label_for(database, subject, clip, label, "HS")
                record = {
                    "key": key, "database": database, "kind": kind, "subject": subject,
                    "clip": clip, "label": label, "labels": {spec.protocol: mapped},
                    "neutral_frame": 0, "expression_frames": list(EXPRESSION),
                    "status": "ok", "size": spec.size,
                }  # fmt: skip
                members = [("neutral.jpg", _jpeg(frames[0]))]
                members += [(f"e{i}.jpg", _jpeg(frames[f])) for i, f in enumerate(EXPRESSION)]
                members.append(("json", json.dumps(record).encode()))
                samples.append((key, members))
                manifest_rows.append(
                    {
                        **{
                            k: record[k]
                            for k in ("key", "database", "kind", "subject", "clip", "label")
                        },
                        "onset": 0,
                        "apex": FRAMES // 2,
                        "offset": FRAMES - 1,
                        "neutral_frame": 0,
                        "expression_frames": list(EXPRESSION),
                        "status": "ok",
                        "reason": None,
                        "shard": shard,
                        "members": [m for m, _ in members],
                        f"label_{spec.protocol}": mapped,
                        f"excluded_{spec.protocol}": reason,
                    }  # fmt: skip
                )
            _write_shard(data_dir / database / shard, samples)
            entries.append(_index_entry(data_dir / database / shard, subject, samples))
        options = ShardOptions(size=spec.size).to_json()
        write_index(data_dir / database / "shards", ShardIndex(database, options, entries))
        write_parquet(data_dir / database / "manifest.parquet", pd.DataFrame(manifest_rows))
        split_rows += [r for r in manifest_rows if r[f"label_{spec.protocol}"] is not None]
    path = data_dir / "split.parquet"
    write_parquet(path, loso_table(split_rows, spec.protocol))
    return path


def loso_table(clips: list[dict], protocol: str) -> pd.DataFrame:
    """The split table of docs/splits.md for manifest rows `clips` (one fold per micro subject)."""
    scheme = load_scheme(protocol)
    subjects = sorted({(c["database"], c["subject"]) for c in clips if c["kind"] == "micro"})
    rows = []
    for fold, (database, subject) in enumerate(subjects):
        for c in clips:
            held = (c["database"], c["subject"]) == (database, subject)
            if c["kind"] == "micro" and c["database"] not in scheme.evaluated:
                continue
            label = c[f"label_{protocol}"]
            rows.append(
                {
                    "fold": fold,
                    "held_out": f"{database}/{subject}",
                    "key": c["key"],
                    "database": c["database"],
                    "subject": c["subject"],
                    "domain": c["kind"],
                    "role": "test" if held else "train",
                    "label": label,
                    "label_index": scheme.class_index(label),
                }  # fmt: skip
            )
    return pd.DataFrame(rows)
