"""`mepipe stats`: the paper's Table 1 for a protocol, from the ingested manifests.

Subjects and clips per class for each evaluated database and in total, counted the way
`mepipe split` counts them (rejected clips out, flagged ones in). Where the protocol file
states the counts of a complete release (`[expected.<db>]`), they are shown beside, so an
incomplete or mis-mapped release shows at a glance.
"""

from __future__ import annotations

from dataclasses import asdict, dataclass, field
from pathlib import Path

from mepipe.contract.manifest import manifest_path
from mepipe.protocols import load_scheme
from mepipe.split import protocol_clips


@dataclass
class Counts:
    """One row of Table 1. `expected` holds the protocol file's numbers (may be empty)."""

    name: str
    ingested: bool
    subjects: int
    classes: dict[str, int]
    expected: dict[str, int] = field(default_factory=dict)

    @property
    def clips(self) -> int:
        return sum(self.classes.values())


@dataclass
class ProtocolStats:
    protocol: str
    classes: tuple[str, ...]
    databases: list[Counts]

    @property
    def total(self) -> Counts:
        """The sum of the rows; expected only where every database states it."""
        rows = self.databases
        keys = ("subjects", *self.classes)
        expected = {}
        if all(r.expected for r in rows):
            expected = {k: sum(r.expected.get(k, 0) for r in rows) for k in keys}
        return Counts(
            name="total",
            ingested=any(r.ingested for r in rows),
            subjects=sum(r.subjects for r in rows),
            classes={c: sum(r.classes[c] for r in rows) for c in self.classes},
            expected=expected,
        )

    def to_json(self) -> dict:
        def row(counts: Counts) -> dict:
            return {**asdict(counts), "clips": counts.clips}

        return {
            "protocol": self.protocol,
            "classes": list(self.classes),
            "databases": [row(r) for r in self.databases],
            "total": row(self.total),
        }


def protocol_stats(data_dir: Path, protocol: str) -> ProtocolStats:
    """Count subjects and per-class clips of each of the protocol's evaluated databases."""
    scheme = load_scheme(protocol)
    clips = protocol_clips(data_dir, scheme)
    rows = []
    for database in scheme.evaluated:
        mine = clips[clips["database"] == database]
        per_class = mine["label"].value_counts()
        rows.append(
            Counts(
                name=database,
                ingested=manifest_path(data_dir, database).exists(),
                subjects=mine["subject"].nunique(),
                classes={c: int(per_class.get(c, 0)) for c in scheme.classes},
                expected=dict(scheme.expected.get(database, {})),
            )
        )
    return ProtocolStats(protocol=scheme.name, classes=scheme.classes, databases=rows)
