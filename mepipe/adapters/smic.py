"""SMIC: no annotation file; the label is the folder, the clip is the folder.

```
<root>/SMIC_all_raw/HS/s1/micro/negative/s1_ne_01/image090823.bmp
<root>/SMIC_all_raw/VIS/s1/micro/positive/s1_po_01/00123.bmp
<root>/SMIC_all_raw/HS/s1/non_micro/...                  # not micro-expressions: skipped
<root>/SMIC_all_cropped/HS/s1/micro/.../reg_image090823.bmp
```

The release's quirks and how this adapter meets each (docs/releases.md):
- sub-sets HS (100 fps), VIS and NIR (25 fps) side by side: each is read if asked
  (SmicOptions.subsets). HS clip ids are the folder name (`s1_ne_01`); VIS and NIR
  ids carry the subset (`VIS-s1_ne_01`) so that keys stay unique.
- subjects are `s1` on disk but `s01` in the MEGC list (and in some copies): both become
  `s1`, and a clip folder `s01_ne_01` becomes `s1_ne_01`.
- no onset/apex/offset annotation: onset = first frame on disk, offset = last; the apex is
  chosen at ingest by `--apex-method` (mepipe.apex), the midpoint
  `onset + (offset - onset) // 2` snapped to a frame on disk by default (ApexSource.MIDPOINT).
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from pathlib import Path

from mepipe.adapters.base import Adapter, ParseResult, VariantOptions
from mepipe.adapters.layout import (
    choose_variant,
    find_folders,
    frame_size,
    has_subfolder,
    sequence_frames,
    subfolders,
)
from mepipe.adapters.record import clip_record, release_fps
from mepipe.apex import midpoint_apex
from mepipe.errors import MepipeError
from mepipe.protocols import normalise_label
from mepipe.records import ApexSource, ClipRecord, FrameSource

SUBSETS = ("HS", "VIS", "NIR")
SUBJECT_DIR = re.compile(r"s\d+", re.IGNORECASE)
MICRO_DIR = "micro"
NON_MICRO_DIR = "non_micro"


@dataclass(frozen=True)
class SmicOptions(VariantOptions):
    """SMIC's choices: raw or cropped frames (`variant`), and which camera sub-sets to read."""

    subsets: tuple[str, ...] = SUBSETS


def smic_subject(name: str) -> str:
    """`s01` or `s1` -> `s1` (the on-disk spelling used in the manifest)."""
    match = re.fullmatch(r"s0*(\d+)", name.strip(), re.IGNORECASE)
    return f"s{int(match.group(1))}" if match else name


def smic_clip(name: str) -> str:
    """`s01_ne_01` or `s1_ne_01` -> `s1_ne_01`."""
    match = re.fullmatch(r"s0*(\d+)_(.+)", name.strip(), re.IGNORECASE)
    return f"s{int(match.group(1))}_{match.group(2)}" if match else name


def _is_subset_dir(folder: Path) -> bool:
    return folder.name.upper() in SUBSETS and has_subfolder(folder, SUBJECT_DIR)


def _subject_number(folder: Path) -> int:
    return int(smic_subject(folder.name)[1:])


class SmicAdapter(Adapter):
    name = "smic"
    title = "SMIC"
    Options = SmicOptions
    options: SmicOptions

    @classmethod
    def looks_like(cls, root: Path) -> bool:
        return bool(find_folders(root, _is_subset_dir))

    def _subset_dirs(self, notes: list[str]) -> tuple[str, list[Path]]:
        """The asked sub-set folders of the asked variant (or the other variant, noted)."""
        asked = tuple(s.upper() for s in self.options.subsets)
        unknown = [s for s in asked if s not in SUBSETS]
        if unknown:
            raise MepipeError(f"unknown SMIC subset {unknown[0]} (known: {', '.join(SUBSETS)})")
        found = [d for d in find_folders(self.root, _is_subset_dir) if d.name.upper() in asked]
        variant, dirs = choose_variant(found, self.root, self.options.variant, notes, self.title)
        if not dirs:
            raise MepipeError(
                f"no SMIC subset folder ({'/'.join(asked)} holding s1/, s2/, ...) found "
                "below this folder",
                self.root,
            )
        present = {d.name.upper() for d in dirs}
        for subset in asked:
            if subset not in present:
                notes.append(f"SMIC subset {subset} not found ({variant} frames); skipped")
        dirs.sort(key=lambda d: (SUBSETS.index(d.name.upper()), str(d)))
        return variant, dirs

    def parse(self) -> ParseResult:
        notes: list[str] = []
        variant, subset_dirs = self._subset_dirs(notes)
        records: list[ClipRecord] = []
        stray: list[str] = []
        skipped_non_micro = 0
        for subset_dir in subset_dirs:
            subset = subset_dir.name.upper()
            extra = {"subset": subset, "variant": variant}
            subjects = subfolders(subset_dir, SUBJECT_DIR, stray)
            for subject_dir in sorted(subjects, key=_subject_number):
                for entry in subfolders(subject_dir, None, stray):
                    if entry.name.lower() == NON_MICRO_DIR:
                        skipped_non_micro += 1
                    elif entry.name.lower() == MICRO_DIR:
                        fps = release_fps(self.name, subset)
                        records.extend(self._micro(entry, subset, fps, extra, stray))
                    else:
                        stray.append(str(entry))
        if skipped_non_micro:
            notes.append(f"skipped {skipped_non_micro} non_micro folders (not micro-expressions)")
        return ParseResult(records, stray_files=sorted(stray), notes=notes)

    def _micro(
        self, micro_dir: Path, subset: str, fps: float, extra: dict[str, str], stray: list[str]
    ) -> list[ClipRecord]:
        """Records of one subject's `micro/<label>/<clip>/` folders."""
        subject = smic_subject(micro_dir.parent.name)
        records = []
        for label_dir in subfolders(micro_dir, None, stray):
            try:
                label = normalise_label(self.name, label_dir.name)
            except ValueError as exc:
                raise MepipeError(f"emotion folder: {exc}", label_dir) from None
            for clip_dir in subfolders(label_dir, None, stray):
                clip = smic_clip(clip_dir.name)
                clip_id = clip if subset == "HS" else f"{subset}-{clip}"
                source = sequence_frames(clip_dir, stray)
                records.append(self._record(subject, clip_id, label, source, clip_dir, fps, extra))
        return records

    def _record(
        self,
        subject: str,
        clip: str,
        label: str,
        source: FrameSource,
        clip_dir: Path,
        fps: float,
        extra: dict[str, str],
    ) -> ClipRecord:
        reason, apex, size = None, None, (0, 0)
        if not source.numbers:
            reason = f"clip folder {clip_dir} holds no frames"
        else:
            apex = midpoint_apex(source.numbers)  # until ingest applies --apex-method
            try:
                size = frame_size(source.paths[0])
            except MepipeError as exc:
                reason = f"first frame cannot be read: {exc}"
        return clip_record(
            self.name,
            subject,
            clip,
            label,
            source,
            ApexSource.MIDPOINT,
            apex=apex,
            fps=fps,
            size=size,
            extra=extra,
            reject_reason=reason,
        )
