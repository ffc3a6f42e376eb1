"""`mepipe check-protocol`: the user's composite set against the official MEGC 2019 list.

The official list (users have it from the challenge; see DATASETS.md) has no header and one
clip a row: database, subject, clip, class index (0 negative, 1 positive, 2 surprise for
`cde`). It spells subjects its own way (SAMM `6`, SMIC `s01` / `s01_ne_01`); these are
converted to the manifest's spellings (docs/manifest.md) before comparing. Every clip that
is missing, extra or labelled differently is listed, and any difference exits 1.

The list circulates in more than one version: the scheme file names the clips a version is
known to lack (`[[known_gaps]]` in cde.toml: the 441-row `combined_3class_gt-2.csv` lacks
SAMM 032_3_1). Checked against a list of that length, such a clip of yours is listed as a
known gap of that version, not as an extra, and does not count as a difference.
"""

from __future__ import annotations

import csv
import re
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

import pandas as pd

from mepipe.contract.manifest import ClipStatus
from mepipe.errors import MepipeError
from mepipe.protocols import Scheme
from mepipe.records import clip_key
from mepipe.split import read_manifests, usable_clips


def _number(text: str) -> int:
    if not text.isdigit():
        raise ValueError(f"subject '{text}' has no number")
    return int(text)


def _casme2(subject: str, clip: str) -> tuple[str, str]:
    """`sub01`, `01` or `1` -> `sub01`."""
    return f"sub{_number(subject.removeprefix('sub')):02d}", clip


def _samm(subject: str, clip: str) -> tuple[str, str]:
    """`6` or `006` -> `006`."""
    return f"{_number(subject):03d}", clip


_SMIC_CLIP = re.compile(r"^s(\d+)_(.+)$", re.IGNORECASE)


def _smic(subject: str, clip: str) -> tuple[str, str]:
    """`s01` -> `s1`, `s01_ne_01` -> `s1_ne_01` (SMIC's folder names)."""
    number = _number(subject.lower().removeprefix("s"))
    match = _SMIC_CLIP.match(clip)
    if match is None:
        raise ValueError(f"SMIC clip '{clip}' is not of the form s01_ne_01")
    return f"s{number}", f"s{int(match[1])}_{match[2]}"


# MEGC list spelling -> manifest spelling, per database the list may name.
NORMALISE: dict[str, Callable[[str, str], tuple[str, str]]] = {
    "casme2": _casme2,
    "samm": _samm,
    "smic": _smic,
}


@dataclass(frozen=True)
class ReferenceClip:
    database: str
    subject: str
    clip: str
    label: str
    row: int

    @property
    def key(self) -> str:
        return clip_key(self.database, self.subject, self.clip)


def read_reference(path: Path, scheme: Scheme) -> list[ReferenceClip]:
    """Parse the official list; a malformed row is a MepipeError naming the file and row."""
    try:
        text = Path(path).read_text(encoding="utf-8-sig")
    except (OSError, UnicodeDecodeError) as exc:
        raise MepipeError(f"cannot read the reference list: {exc}", path) from None
    clips: dict[str, ReferenceClip] = {}
    for row, cells in enumerate(csv.reader(text.splitlines()), start=1):
        cells = [c.strip() for c in cells]
        if not any(cells):
            continue
        try:
            clip = _parse_row(cells, scheme, row)
        except ValueError as exc:
            raise MepipeError(str(exc), path, row) from None
        if clip.key in clips:
            raise MepipeError(f"clip listed twice (first at row {clips[clip.key].row})", path, row)
        clips[clip.key] = clip
    if not clips:
        raise MepipeError("the reference list is empty", path)
    return list(clips.values())


def _parse_row(cells: list[str], scheme: Scheme, row: int) -> ReferenceClip:
    if len(cells) != 4:
        raise ValueError(
            f"expected 4 fields (database, subject, clip, class), found {len(cells)}: "
            f"{','.join(cells)}"
        )
    database, subject, clip, index = cells
    database = database.lower()
    if database not in scheme.evaluated or database not in NORMALISE:
        raise ValueError(f"database '{database}' is not one of {', '.join(scheme.evaluated)}")
    if not index.isdigit() or int(index) >= len(scheme.classes):
        raise ValueError(
            f"class '{index}' is not 0..{len(scheme.classes) - 1} ({', '.join(scheme.classes)})"
        )
    subject, clip = NORMALISE[database](subject, clip)
    return ReferenceClip(database, subject, clip, scheme.classes[int(index)], row)


KINDS = ("missing", "extra", "mislabelled", "known gap")


@dataclass(frozen=True)
class Difference:
    kind: str  # one of KINDS
    key: str
    reference: str | None  # the class in the official list
    yours: str | None  # the class in the user's manifest
    note: str  # why a missing clip is not in the user's set; which list lacks a known gap


def compare(data_dir: Path, reference: list[ReferenceClip], scheme: Scheme) -> list[Difference]:
    """Missing, extra and mislabelled clips of the user's set, in key order."""
    manifest = read_manifests(data_dir, scheme.evaluated, require=(f"label_{scheme.name}",))
    yours = usable_clips(manifest, scheme, data_dir).set_index("key")["label"].to_dict()
    everything = manifest.set_index("key")
    theirs = {c.key: c for c in reference}
    gaps = {  # those of the version that `reference` is, told by its length
        clip_key(g.database, g.subject, g.clip): g
        for g in scheme.known_gaps
        if g.rows == len(reference)
    }
    differences = []
    for key in sorted(theirs.keys() | yours.keys()):
        mine = yours.get(key)
        official = theirs[key].label if key in theirs else None
        if mine == official:
            continue
        if mine is None:
            note = _why(everything, theirs[key], scheme)
            differences.append(Difference("missing", key, official, None, note))
        elif official is None and key in gaps:
            gap = gaps[key]
            note = f"a known gap of the {gap.rows}-row {gap.version}: {gap.reason}"
            differences.append(Difference("known gap", key, None, mine, note))
        elif official is None:
            differences.append(Difference("extra", key, None, mine, ""))
        else:
            differences.append(Difference("mislabelled", key, official, mine, ""))
    return differences


def _why(manifest: pd.DataFrame, clip: ReferenceClip, scheme: Scheme) -> str:
    """What the manifest says about a listed clip that is not in the user's set."""
    if clip.key not in manifest.index:
        if clip.database not in set(manifest["database"]):
            return f"{clip.database} not ingested"
        return "not in the manifest"
    row = manifest.loc[clip.key]

    def cell(column: str) -> str | None:
        value = row.get(column)
        return None if value is None or pd.isna(value) else str(value)

    if row["status"] == ClipStatus.REJECTED:
        return f"rejected: {cell('reason') or 'no reason given'}"
    excluded = cell(f"excluded_{scheme.name}")
    return f"excluded: {excluded}" if excluded else f"release label '{cell('label')}'"
