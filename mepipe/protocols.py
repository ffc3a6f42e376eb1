"""Label schemes and database facts, read from the data files in `manifests/`.

Every label map lives in those TOML files; this module only reads and applies them, so a
protocol is changed (or a new one added) by editing data, not code.
"""

from __future__ import annotations

import functools
import importlib.resources
import os
import tomllib
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from mepipe.errors import MepipeError


def manifests_dir() -> Path:
    """The folder of protocol files: $MEPIPE_MANIFESTS, else the copy an installed wheel
    carries inside the package (`mepipe/manifests/`, see setup.py), else `manifests/`
    beside the package in a checkout or an editable install."""
    env = os.environ.get("MEPIPE_MANIFESTS")
    if env:
        return Path(env)
    # A wheel is always unpacked onto disk, so the installed copy is a real folder.
    installed = importlib.resources.files("mepipe") / "manifests"
    if isinstance(installed, Path) and installed.is_dir():
        return installed
    checkout = Path(__file__).resolve().parent.parent / "manifests"
    if checkout.is_dir():
        return checkout
    raise MepipeError(
        "the protocol files are missing from this install (looked in "
        f"{installed} and {checkout}); reinstall mepipe or set MEPIPE_MANIFESTS"
    )


def _load_toml(path: Path) -> dict[str, Any]:
    try:
        with path.open("rb") as handle:
            return tomllib.load(handle)
    except FileNotFoundError:
        raise MepipeError("protocol data file not found", path) from None
    except tomllib.TOMLDecodeError as exc:
        raise MepipeError(f"not valid TOML: {exc}", path) from None


@functools.cache
def databases() -> dict[str, dict[str, Any]]:
    """manifests/databases.toml: kind, fps, label vocabulary and codes of each release."""
    return _load_toml(manifests_dir() / "databases.toml")


def database_info(name: str) -> dict[str, Any]:
    try:
        return databases()[name]
    except KeyError:
        raise MepipeError(f"unknown database '{name}' (known: {', '.join(databases())})") from None


def is_micro(database: str) -> bool:
    return database_info(database)["kind"] == "micro"


def normalise_label(database: str, raw: str | int | float) -> str:
    """The release's own label, as the canonical lower-case name of databases.toml.

    A release whose labels are numbers (`numeric_codes`: CK+ `3.0000000e+00`, MMI `4`) has
    each read as a number and named through its `codes` table; names are lower-cased, short
    codes (SMIC `ne`) named and spelling variants folded through `aliases`.
    Raises ValueError with a readable message for a label the release does not define.
    """
    info = database_info(database)
    codes = info.get("codes", {})
    text = str(raw).strip()
    if info.get("numeric_codes", False):
        try:
            number = float(text)
        except ValueError:
            raise ValueError(f"emotion code '{text}' is not a number") from None
        if not number.is_integer() or str(int(number)) not in codes:
            raise ValueError(f"unknown emotion code '{text}' (known: {', '.join(codes)})")
        return codes[str(int(number))]
    name = text.lower()
    name = codes.get(name, name)
    name = info.get("aliases", {}).get(name, name)
    if name not in info["labels"]:
        raise ValueError(f"unknown emotion label '{text}' (known: {', '.join(info['labels'])})")
    return name


@dataclass(frozen=True)
class Exclusion:
    database: str
    subject: str
    clip: str
    reason: str


@dataclass(frozen=True)
class KnownGap:
    """A clip that one circulating version of the official list lacks, though the protocol
    counts it: `mepipe check-protocol` names it as that version's gap, not as an extra.
    A list is taken for that version when it has that many clips."""

    database: str
    subject: str
    clip: str
    version: str  # the file name the version circulates under
    rows: int  # how many clips that version lists
    reason: str


@dataclass(frozen=True)
class Scheme:
    """One protocol: its classes, per-database label map, named exclusions, expected counts."""

    name: str
    description: str
    classes: tuple[str, ...]
    evaluated: tuple[str, ...]
    maps: dict[str, dict[str, str]]
    subsets: dict[str, tuple[str, ...]] = field(default_factory=dict)
    exclusions: tuple[Exclusion, ...] = ()
    expected: dict[str, dict[str, int]] = field(default_factory=dict)
    known_gaps: tuple[KnownGap, ...] = ()

    def covers(self, database: str) -> bool:
        return database in self.maps

    def label_for(
        self, database: str, subject: str, clip: str, label: str | None, subset: str | None = None
    ) -> tuple[str | None, str | None]:
        """(class, None) if the scheme uses the clip, else (None, reason it is left out)."""
        if database not in self.maps:
            return None, f"{self.name} does not use {database}"
        allowed = self.subsets.get(database)
        if allowed and subset not in allowed:
            return None, f"{self.name} uses only {'/'.join(allowed)} of {database}"
        for ex in self.exclusions:
            if (ex.database, ex.subject, ex.clip) == (database, subject, clip):
                return None, ex.reason
        if label is None:
            return None, "no label"
        mapped = self.maps[database].get(label)
        if mapped is None:
            return None, f"label '{label}' is not a class of {self.name}"
        return mapped, None

    def class_index(self, name: str) -> int:
        return self.classes.index(name)


def scheme_names() -> list[str]:
    return sorted(p.stem for p in (manifests_dir() / "schemes").glob("*.toml"))


@functools.cache
def load_scheme(name: str) -> Scheme:
    path = manifests_dir() / "schemes" / f"{name}.toml"
    if not path.exists():
        raise MepipeError(f"unknown protocol '{name}' (known: {', '.join(scheme_names())})")
    data = _load_toml(path)
    try:
        return Scheme(
            name=data["name"],
            description=data.get("description", ""),
            classes=tuple(data["classes"]),
            evaluated=tuple(data["evaluated"]),
            maps={db: dict(m) for db, m in data["map"].items()},
            subsets={db: tuple(v) for db, v in data.get("subsets", {}).items()},
            exclusions=tuple(Exclusion(**ex) for ex in data.get("exclude", [])),
            expected={db: dict(v) for db, v in data.get("expected", {}).items()},
            known_gaps=tuple(KnownGap(**gap) for gap in data.get("known_gaps", [])),
        )
    except (KeyError, TypeError) as exc:
        raise MepipeError(f"protocol file is missing or misuses field {exc}", path) from None


def all_schemes() -> list[Scheme]:
    return [load_scheme(n) for n in scheme_names()]
