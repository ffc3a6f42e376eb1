"""A small data dir in the exact formats of `mepipe ingest`, rendered from the demo face.

For tests, benchmarks and the GPU check, which must not wait for the full pipeline (demo
releases -> ingest -> align -> shards): manifests (docs/manifest.md), subject shards with
the members of docs/shards.md and their index.json, and a LOSO split table (docs/splits.md),
all written by the same code as `mepipe ingest` and `mepipe split` (mepipe.contract,
mepipe.shards.index, mepipe.split), so the trainer's tests read real formats. Faces come from
`mepipe.demo.face.render_clip`: micro clips move a few per cent of the frame, macro clips
several times more, with the same motions per label, so macro data can teach micro.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path

import cv2
import numpy as np
import pandas as pd

from mepipe.atomic import write_parquet
from mepipe.contract.manifest import ClipStatus, manifest_path
from mepipe.contract.sample import (
    EXPRESSIONS,
    FLOW,
    MAGNITUDE,
    NEUTRAL,
    ONSET_APEX,
    STRAIN,
    member_names,
    shard_writer,
    write_sample,
)
from mepipe.demo.face import Look, render_clip
from mepipe.flow import FlowOptions, flow_fields
from mepipe.protocols import database_info, load_scheme
from mepipe.records import clip_key
from mepipe.shards.index import ShardEntry, ShardIndex, sha256_of, write_index
from mepipe.shards.options import ShardOptions
from mepipe.split import loso_split

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
FORMAT = "jpg"
SYNTHETIC_FLOW = FlowOptions(flow="tvl1")


@dataclass
class SyntheticSpec:
    micro: dict[str, int] = field(default_factory=lambda: {"casme2": 2, "smic": 2})
    macro: dict[str, int] = field(default_factory=lambda: {"ckplus": 2})
    clips_per_subject: int = 3
    size: int = 32
    micro_amplitude: float = 0.03  # landmark displacement at the apex, fraction of the size
    macro_amplitude: float = 0.12
    protocol: str = "cde"
    # Write the onset->apex flow members (as `mepipe ingest --flow`) for the flow models.
    flow: bool = False


def _jpeg(image: np.ndarray) -> bytes:
    ok, data = cv2.imencode(
        ".jpg", cv2.cvtColor(image, cv2.COLOR_RGB2BGR), [cv2.IMWRITE_JPEG_QUALITY, 95]
    )
    assert ok
    return data.tobytes()


def _flow_arrays(neutral: np.ndarray, apex: np.ndarray) -> dict[str, np.ndarray]:
    """Onset->apex flow members of a rendered clip (docs/shards.md), computed as `mepipe
    ingest --flow tvl1` computes them (mepipe.flow). The rendered motion depends on the
    label, so the flow does too; the trainer's tests then need no mediapipe and no ingest."""
    fields = flow_fields(neutral, apex, SYNTHETIC_FLOW)
    return {FLOW: fields.flow, STRAIN: fields.strain, MAGNITUDE: fields.magnitude}


def _index_entry(path: Path, subject: str, samples: list) -> ShardEntry:
    """The shard's index.json entry, as `mepipe ingest` writes it (the trainer checks it)."""
    return ShardEntry(
        name=path.name,
        subject=subject,
        keys=[sample[0] for sample in samples],
        sha256=sha256_of(path),
        bytes=path.stat().st_size,
        inputs="synthetic",
    )


def build(data_dir: str | Path, spec: SyntheticSpec | None = None) -> Path:
    """Write manifests, shards and `split.parquet` under `data_dir`; returns the split path."""
    spec = spec or SyntheticSpec()
    data_dir = Path(data_dir)
    scheme = load_scheme(spec.protocol)
    look_index = 0
    pairs = (ONSET_APEX,) if spec.flow else ()
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
                    "status": ClipStatus.OK, "size": spec.size,
                }  # fmt: skip
                images = {f"{NEUTRAL}.{FORMAT}": _jpeg(frames[0])}
                for member, f in zip(EXPRESSIONS, EXPRESSION, strict=True):
                    images[f"{member}.{FORMAT}"] = _jpeg(frames[f])
                arrays = _flow_arrays(frames[0], frames[FRAMES // 2]) if spec.flow else {}
                samples.append((key, images, record, arrays))
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
                        "status": ClipStatus.OK,
                        "reason": None,
                        "shard": shard,
                        "members": member_names(key, FORMAT, pairs),
                        f"label_{spec.protocol}": mapped,
                        f"excluded_{spec.protocol}": reason,
                    }  # fmt: skip
                )
            with shard_writer(data_dir / database / shard) as tar:
                for key, images, record, arrays in samples:
                    write_sample(tar, key, images, record, FORMAT, arrays)
            entries.append(_index_entry(data_dir / database / shard, subject, samples))
        flow = SYNTHETIC_FLOW if spec.flow else FlowOptions()
        options = ShardOptions(size=spec.size, optical_flow=flow).to_json()
        write_index(data_dir / database / "shards", ShardIndex(database, options, entries))
        write_parquet(manifest_path(data_dir, database), pd.DataFrame(manifest_rows))
    path = data_dir / "split.parquet"
    write_parquet(path, loso_split(data_dir, spec.protocol, macro=tuple(spec.macro)))
    return path
