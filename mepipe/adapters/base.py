"""The contract every release adapter fulfils.

An adapter knows one release's layout on disk and its annotation quirks, and nothing else:
it turns a root folder into ClipRecords. It decodes no image beyond reading a size, it
chooses no frames and it maps no label to a protocol: later stages do that, the same way
for every database.
"""

from __future__ import annotations

from abc import ABC, abstractmethod
from dataclasses import dataclass, field
from pathlib import Path
from typing import ClassVar

from mepipe.errors import MepipeError
from mepipe.records import ClipRecord


@dataclass(frozen=True)
class AdapterOptions:
    """Choices a user makes about which part of a release to read."""

    # CASME II and SMIC ship raw and cropped frames; raw is what alignment expects.
    variant: str = "raw"  # raw | cropped
    smic_subsets: tuple[str, ...] = ("HS", "VIS", "NIR")
    oulu_modality: str = "VL"  # VL | NI
    oulu_lighting: str = "Strong"  # Strong | Weak | Dark


@dataclass
class ParseResult:
    records: list[ClipRecord]
    # Sequences on disk with no label (CK+ without an emotion file, MMI without an Emotion
    # tag or with still images): counted in the report, not errors.
    unlabelled: list[str] = field(default_factory=list)
    # Files ignored because they are not frames (.DS_Store, Thumbs.db, shortcuts, ...).
    stray_files: list[str] = field(default_factory=list)
    notes: list[str] = field(default_factory=list)


class Adapter(ABC):
    """Base class: subclasses set `name` and `title` and implement `looks_like` and `parse`."""

    name: ClassVar[str]
    title: ClassVar[str]  # human name used in messages, e.g. "CASME II"

    def __init__(self, root: str | Path, options: AdapterOptions | None = None):
        self.root = Path(root)
        self.options = options or AdapterOptions()
        if not self.root.is_dir():
            raise MepipeError("release folder does not exist or is not a folder", self.root)
        if not any(self.root.iterdir()):
            raise MepipeError(
                f"release folder is empty (expected a {self.title} release)", self.root
            )

    @classmethod
    @abstractmethod
    def looks_like(cls, root: Path) -> bool:
        """Cheap check of whether `root` holds this release (used to name a wrong database)."""

    @abstractmethod
    def parse(self) -> ParseResult:
        """Read the release: one ClipRecord per clip, rejected clips included with a reason."""
