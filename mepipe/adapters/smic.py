"""SMIC: no annotation file; the label is the folder, the clip is the folder.

```
<root>/SMIC_all_raw/HS/s1/micro/negative/s1_ne_01/image090823.bmp
<root>/SMIC_all_raw/VIS/s1/micro/positive/s1_po_01/00123.bmp
<root>/SMIC_all_raw/HS/s1/non_micro/...                  # not micro-expressions: skipped
<root>/SMIC_all_cropped/HS/s1/micro/.../reg_image090823.bmp
```

The release's quirks and how this adapter meets each (docs/releases.md):
- sub-sets HS (100 fps), VIS and NIR (25 fps) side by side: each is read if asked
  (AdapterOptions.smic_subsets). HS clip ids are the folder name (`s1_ne_01`); VIS and NIR
  ids carry the subset (`VIS-s1_ne_01`) so that keys stay unique.
- subjects are `s1` on disk but `s01` in the MEGC list (and in some copies): both become
  `s1`, and a clip folder `s01_ne_01` becomes `s1_ne_01`.
- no onset/apex/offset annotation: onset = first frame on disk, offset = last, apex = the
  midpoint `onset + (offset - onset) // 2` snapped to a frame on disk (ApexSource.MIDPOINT).
"""

from __future__ import annotations

import re
from pathlib import Path

from mepipe.adapters.base import Adapter, ParseResult
from mepipe.adapters.layout import choose_variant, find_dirs, frame_size, has_subdir, subdirs
from mepipe.apex import midpoint_apex
from mepipe.errors import MepipeError
from mepipe.frames import list_frames
from mepipe.protocols import database_info, normalise_label
from mepipe.records import ApexSource, ClipRecord, FrameSource

SUBSETS = ("HS", "VIS", "NIR")
SUBJECT_DIR = re.compile(r"s\d+", re.IGNORECASE)
MICRO_DIR = "micro"
NON_MICRO_DIR = "non_micro"


def smic_subject(name: str) -> str:
    """`s01` or `s1` -> `s1` (the on-disk spelling used in the manifest)."""
    match = re.fullmatch(r"s0*(\d+)", name.strip(), re.IGNORECASE)
    return f"s{int(match.group(1))}" if match else name


def smic_clip(name: str) -> str:
    """`s01_ne_01` or `s1_ne_01` -> `s1_ne_01`."""
    match = re.fullmatch(r"s0*(\d+)_(.+)", name.strip(), re.IGNORECASE)
    return f"s{int(match.group(1))}_{match.group(2)}" if match else name


def _is_subset_dir(folder: Path) -> bool:
    return folder.name.upper() in SUBSETS and has_subdir(folder, SUBJECT_DIR)


def _subject_number(folder: Path) -> int:
    return int(smic_subject(folder.name)[1:])


class SmicAdapter(Adapter):
    name = "smic"
    title = "SMIC"

    @classmethod
    def looks_like(cls, root: Path) -> bool:
        return bool(find_dirs(root, _is_subset_dir))

    def _subset_dirs(self, notes: list[str]) -> tuple[str, list[Path]]:
        """The asked sub-set folders of the asked variant (or the other variant, noted)."""
        asked = tuple(s.upper() for s in self.options.smic_subsets)
        unknown = [s for s in asked if s not in SUBSETS]
        if unknown:
            raise MepipeError(f"unknown SMIC subset {unknown[0]} (known: {', '.join(SUBSETS)})")
        found = [d for d in find_dirs(self.root, _is_subset_dir) if d.name.upper() in asked]
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
        fps_of = database_info(self.name)["fps"]
        records: list[ClipRecord] = []
        stray: list[str] = []
        skipped_non_micro = 0
        for subset_dir in subset_dirs:
            subset = subset_dir.name.upper()
            extra = {"subset": subset, "variant": variant}
            subjects = [d for d in subdirs(subset_dir) if SUBJECT_DIR.fullmatch(d.name)]
            stray.extend(str(p) for p in sorted(subset_dir.iterdir()) if p not in subjects)
            for subject_dir in sorted(subjects, key=_subject_number):
                for entry in sorted(subject_dir.iterdir()):
                    if entry.is_dir() and entry.name.lower() == NON_MICRO_DIR:
                        skipped_non_micro += 1
                    elif entry.is_dir() and entry.name.lower() == MICRO_DIR:
                        records.extend(
                            self._micro(entry, subset, float(fps_of[subset]), extra, stray)
                        )
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
        for label_dir in sorted(micro_dir.iterdir()):
            if not label_dir.is_dir():
                stray.append(str(label_dir))
                continue
            try:
                label = normalise_label(self.name, label_dir.name)
            except ValueError as exc:
                raise MepipeError(f"emotion folder: {exc}", label_dir) from None
            for clip_dir in sorted(label_dir.iterdir()):
                if not clip_dir.is_dir():
                    stray.append(str(clip_dir))
                    continue
                clip = smic_clip(clip_dir.name)
                clip_id = clip if subset == "HS" else f"{subset}-{clip}"
                source, clip_stray = list_frames(clip_dir)
                stray.extend(clip_stray)
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
        reason = None
        onset = offset = width = height = 0
        apex = None
        if not source.numbers:
            reason = f"clip folder {clip_dir} holds no frames"
        else:
            onset, offset = source.numbers[0], source.numbers[-1]
            apex = midpoint_apex(source.numbers)
            try:
                width, height = frame_size(source.paths[0])
            except MepipeError as exc:
                reason = f"first frame cannot be read: {exc}"
        return ClipRecord(
            database=self.name,
            subject=subject,
            clip=clip,
            label=label,
            source=source,
            onset=onset,
            apex=apex,
            offset=offset,
            apex_source=ApexSource.MIDPOINT,
            fps=fps,
            width=width,
            height=height,
            extra=dict(extra),
            reject_reason=reason,
        )
