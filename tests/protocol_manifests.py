"""Hand-made clip manifests for the protocol command tests (split, stats, check-protocol).

Only the manifest columns those commands read (docs/manifest.md). Each scheme's label comes
from mepipe.protocols, as `mepipe ingest` fills it, so no label map is repeated here.
"""

from __future__ import annotations

import json
from pathlib import Path

import pandas as pd

from mepipe.protocols import all_schemes, database_info
from mepipe.records import clip_key


def clip(
    subject: str, name: str, label: str | None, status: str = "ok", subset: str | None = None
) -> dict:
    return {"subject": subject, "clip": name, "label": label, "status": status, "subset": subset}


def write_manifest(data_dir: Path, database: str, clips: list[dict]) -> Path:
    rows = []
    for c in clips:
        row = {
            "key": clip_key(database, c["subject"], c["clip"]),
            "database": database,
            "kind": database_info(database)["kind"],
            "subject": c["subject"],
            "clip": c["clip"],
            "label": c["label"],
            "status": c["status"],
            "reason": "frame missing on disk" if c["status"] == "rejected" else None,
            "extra": json.dumps({"subset": c["subset"]} if c["subset"] else {}),
        }
        for scheme in all_schemes():
            label, why = scheme.label_for(
                database, c["subject"], c["clip"], c["label"], c["subset"]
            )
            row[f"label_{scheme.name}"] = label
            row[f"excluded_{scheme.name}"] = why
        rows.append(row)
    path = data_dir / database / "manifest.parquet"
    path.parent.mkdir(parents=True, exist_ok=True)
    pd.DataFrame(rows).to_parquet(path, index=False)
    return path


CASME2 = [
    clip("sub01", "EP02_01f", "happiness"),
    clip("sub01", "EP19_05f", "disgust", status="flagged"),
    clip("sub01", "EP03_02", "others"),  # not a cde class
    clip("sub02", "EP01_11f", "surprise"),
    clip("sub02", "EP02_04f", "repression"),
    clip("sub02", "EP08_04", "disgust", status="rejected"),
    clip("sub03", "EP01_08", "others"),  # subject with no cde clip: no cde fold
    clip("sub04", "EP12_01f", "disgust"),  # excluded by name in cde.toml
]
SMIC = [
    clip("s1", "s1_ne_01", "negative", subset="HS"),
    clip("s1", "s1_po_02", "positive", subset="HS", status="flagged"),
    clip("s2", "s2_sur_01", "surprise", subset="VIS"),  # cde uses HS only
    clip("s3", "s3_sur_01", "surprise", subset="HS"),
]
SAMM = [
    clip("006", "006_1_2", "anger"),
    clip("006", "006_1_3", "others"),
    clip("s1", "s1_x_1", "happiness"),  # a hypothetical `s1` that is not SMIC's `s1`
]
CKPLUS = [
    clip("S005", "001", "disgust"),
    clip("S010", "002", "happiness"),
    clip("S011", "001", None),  # unlabelled sequence
]


def write_all(data_dir: Path, macro: bool = True) -> Path:
    write_manifest(data_dir, "casme2", CASME2)
    write_manifest(data_dir, "smic", SMIC)
    write_manifest(data_dir, "samm", SAMM)
    if macro:
        write_manifest(data_dir, "ckplus", CKPLUS)
    return data_dir
