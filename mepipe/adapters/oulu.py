"""Oulu-CASIA NIR&VIS: posed sequences from neutral to peak, labelled by their folder.

Layout (docs/releases.md)::

    OriginalImg/VL/Strong/P001/Happiness/000.jpeg 001.jpeg ...
    OriginalImg/NI/{Strong,Weak,Dark}/...
    PreProcess_Img/VL_Acropped/Strong/P001/Happiness/...

Quirks handled here:
- The top folder's name varies, and so does the modality folder's (`VL`, `VL_Acropped`):
  modality folders are found by name (`VL` or `VL_...`) and by holding a lighting folder.
- Both the original and the preprocessed (cropped) frames may be unpacked side by side:
  `OuluOptions.variant` picks (raw = `VL`, cropped = `VL_...`); if only one is there it
  is used and a note says so.
- One modality and lighting per ingest (`OuluOptions.modality`, `.lighting`; VL + Strong by
  default), recorded in `extra`. Clip ids are the emotion folder, so keys do not repeat.
- No annotation file: the label is the emotion folder, the first frame is neutral and the
  last the peak. Frame files count from 000.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from pathlib import Path

from mepipe.adapters.base import Adapter, ParseResult, VariantOptions
from mepipe.adapters.layout import find_folders, sequence_frames, subfolders
from mepipe.adapters.record import peak_sequence_record
from mepipe.errors import MepipeError
from mepipe.protocols import normalise_label

MODALITIES = ("VL", "NI")
LIGHTINGS = ("Strong", "Weak", "Dark")
MODALITY_FOLDER = re.compile(r"(VL|NI)(_.+)?")
SUBJECT = re.compile(r"P\d+")


@dataclass(frozen=True)
class OuluOptions(VariantOptions):
    """Oulu-CASIA's choices: raw or cropped frames, and one modality and lighting per ingest."""

    modality: str = "VL"  # VL | NI
    lighting: str = "Strong"  # Strong | Weak | Dark


def _is_modality_folder(folder: Path) -> bool:
    return MODALITY_FOLDER.fullmatch(folder.name) is not None and any(
        (folder / lighting).is_dir() for lighting in LIGHTINGS
    )


class OuluAdapter(Adapter):
    name = "oulu"
    title = "Oulu-CASIA"
    Options = OuluOptions
    options: OuluOptions

    @classmethod
    def looks_like(cls, root: Path) -> bool:
        return bool(find_folders(root, _is_modality_folder))

    def parse(self) -> ParseResult:
        result = ParseResult(records=[])
        lighting_dir = self._lighting_folder(result.notes)
        modality, lighting = self.options.modality, self.options.lighting
        subjects = subfolders(lighting_dir, SUBJECT, result.stray_files)
        for subject_dir in subjects:
            for emotion_dir in subfolders(subject_dir, None, result.stray_files):
                try:
                    label = normalise_label(self.name, emotion_dir.name)
                except ValueError as exc:
                    raise MepipeError(f"unknown emotion folder: {exc}", emotion_dir) from None
                source = sequence_frames(emotion_dir, result.stray_files)
                result.records.append(
                    peak_sequence_record(
                        self.name,
                        subject_dir.name,
                        emotion_dir.name,
                        label,
                        source,
                        extra={"modality": modality, "lighting": lighting},
                    )
                )
        return result

    def _lighting_folder(self, notes: list[str]) -> Path:
        """The folder of the chosen modality and lighting, e.g. `OriginalImg/VL/Strong`."""
        modality, lighting = self.options.modality, self.options.lighting
        if modality not in MODALITIES or lighting not in LIGHTINGS:
            raise MepipeError(
                f"unknown Oulu-CASIA selection {modality}/{lighting}: modality is one of "
                f"{', '.join(MODALITIES)} and lighting one of {', '.join(LIGHTINGS)}",
                self.root,
            )
        everything = find_folders(self.root, _is_modality_folder)
        if not everything:
            raise MepipeError(
                "no modality folder (VL or NI holding Strong/Weak/Dark) here or below", self.root
            )
        candidates = [f for f in everything if f.name.split("_")[0] == modality]
        if not candidates:
            found = ", ".join(str(f.relative_to(self.root)) for f in everything)
            raise MepipeError(f"no {modality} modality folder (found: {found})", self.root)
        cropped = [f for f in candidates if f.name != modality]
        raw = [f for f in candidates if f.name == modality]
        wanted, other = (cropped, raw) if self.options.variant == "cropped" else (raw, cropped)
        chosen = wanted or other
        if len(chosen) > 1:
            names = ", ".join(str(f.relative_to(self.root)) for f in chosen)
            raise MepipeError(f"several {modality} folders ({names}); keep one", self.root)
        if not wanted:
            notes.append(
                f"no {self.options.variant} frames; using {chosen[0].relative_to(self.root)}"
            )
        folder = chosen[0] / lighting
        if not folder.is_dir():
            present = ", ".join(x for x in LIGHTINGS if (chosen[0] / x).is_dir())
            raise MepipeError(f"no {lighting} lighting folder (found: {present})", chosen[0])
        return folder
