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

from mepipe.adapters.layout import is_visible
from mepipe.errors import MepipeError
from mepipe.records import ClipRecord


@dataclass(frozen=True)
class AdapterOptions:
    """Choices a user makes about which part of a release to read.

    Each adapter declares its own (`Adapter.Options`), holding only what its release offers:
    SMIC's camera sub-sets live in SmicOptions, Oulu-CASIA's modality and lighting in
    OuluOptions. A release with no choice to make takes this empty class.
    """


@dataclass(frozen=True)
class VariantOptions(AdapterOptions):
    """Options of a release that ships raw and cropped frames (CASME II, SMIC, Oulu-CASIA)."""

    # Raw is what alignment expects; cropped frames are already cut to the face.
    variant: str = "raw"  # raw | cropped


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
    Options: ClassVar[type[AdapterOptions]] = AdapterOptions  # what this release offers

    def __init__(self, root: str | Path, options: AdapterOptions | None = None):
        self.root = Path(root)
        self.options = self.Options() if options is None else options
        if not isinstance(self.options, self.Options):
            raise MepipeError(
                f"{self.title} takes {self.Options.__name__}, not {type(self.options).__name__}"
            )
        if not self.root.is_dir():
            raise MepipeError("release folder does not exist or is not a folder", self.root)
        if not any(is_visible(entry) for entry in self.root.iterdir()):
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
