"""CK+ (Extended Cohn-Kanade): posed sequences from neutral to peak, labelled per sequence.

Layout (docs/releases.md)::

    cohn-kanade-images/S005/001/S005_001_00000001.png ... S005_001_00000011.png
    Emotion/S005/001/S005_001_00000011_emotion.txt      one code, e.g. "   3.0000000e+00"
    FACS/S005/001/S005_001_00000011_facs.txt            one "AU intensity" pair per line
    Landmarks/S005/001/S005_001_00000001_landmarks.txt  not used here

Quirks handled here:
- The four folders ship as separate archives, so each is searched for on its own, a few
  levels down (`extended-cohn-kanade-images/cohn-kanade-images/...`).
- Only 327 of 593 sequences carry an emotion file. A sequence whose Emotion folder is
  missing, empty, or holds no `_emotion.txt` is unlabelled: listed, not an error.
- Codes are floats in scientific notation; manifests/databases.toml names them.
- PNGs of mixed sizes, grayscale or RGB: each sequence's size is read from its first frame.
- No onset/apex annotation: the first frame is neutral, the last is the peak.
"""

from __future__ import annotations

import re
from pathlib import Path

from mepipe.adapters.base import Adapter, ParseResult
from mepipe.adapters.layout import (
    child_path,
    find_folder,
    is_visible,
    sequence_frames,
    subfolders,
    visible_files,
)
from mepipe.adapters.record import peak_sequence_record
from mepipe.errors import MepipeError
from mepipe.protocols import normalise_label

IMAGES = "cohn-kanade-images"
SUBJECT = re.compile(r"S\d+")
SEQUENCE = re.compile(r"\d+")


class CkPlusAdapter(Adapter):
    name = "ckplus"
    title = "CK+"

    @classmethod
    def looks_like(cls, root: Path) -> bool:
        return find_folder(root, IMAGES) is not None

    def parse(self) -> ParseResult:
        images = find_folder(self.root, IMAGES)
        if images is None:
            raise MepipeError(f"no {IMAGES} folder here or a few levels below", self.root)
        emotion = find_folder(self.root, "Emotion")
        facs = find_folder(self.root, "FACS")
        result = ParseResult(records=[])
        if emotion is None:
            result.notes.append("no Emotion folder found: every sequence is unlabelled")
        subjects = subfolders(images, SUBJECT, result.stray_files)
        for subject_dir in subjects:
            for sequence_dir in subfolders(subject_dir, SEQUENCE, result.stray_files):
                subject, sequence = subject_dir.name, sequence_dir.name
                source = sequence_frames(sequence_dir, result.stray_files)
                label, missing = _emotion(emotion, subject, sequence, result.stray_files)
                if label is None:
                    result.unlabelled.append(f"{subject}/{sequence}: {missing}")
                    continue
                result.records.append(
                    peak_sequence_record(
                        self.name,
                        subject,
                        sequence,
                        label,
                        source,
                        action_units=_action_units(facs, subject, sequence),
                    )
                )
        return result


def _emotion(
    emotion: Path | None, subject: str, sequence: str, stray: list[str]
) -> tuple[str | None, str]:
    """(label, "") or (None, why the sequence is unlabelled)."""
    where = f"Emotion/{subject}/{sequence}"
    if emotion is None:
        return None, "no Emotion folder in the release"
    folder = child_path(emotion, subject, sequence)
    if not folder.is_dir():
        return None, f"no {where} folder"
    entries = sorted(folder.iterdir())
    if not entries:
        return None, f"{where} is empty"
    files = [
        e for e in entries if e.is_file() and is_visible(e) and e.name.endswith("_emotion.txt")
    ]
    stray.extend(str(e) for e in entries if e not in files)
    if not files:
        return None, f"{where} holds no _emotion.txt file"
    if len(files) > 1:
        names = ", ".join(f.name for f in files)
        raise MepipeError(f"several emotion files ({names}); expected one", folder)
    return _read_emotion(files[0]), ""


def _read_emotion(path: Path) -> str:
    """The label of one emotion file: a single code such as `   3.0000000e+00`."""
    values = path.read_text(errors="replace").split()
    if len(values) != 1:
        raise MepipeError(
            f"emotion file holds {len(values)} values; expected one code such as 3.0000000e+00",
            path,
        )
    try:
        return normalise_label("ckplus", values[0])
    except ValueError as exc:
        raise MepipeError(f"bad emotion file: {exc}", path) from None


def _action_units(facs: Path | None, subject: str, sequence: str) -> str | None:
    """The sequence's coded action units joined by '+' (`1+2+5+25`), or None without a file.

    Each line of a FACS file is `AU intensity` as floats (intensity 0 = not rated).
    """
    folder = None if facs is None else child_path(facs, subject, sequence)
    if folder is None or not folder.is_dir():
        return None
    files = [f for f in visible_files(folder) if f.name.endswith("_facs.txt")]
    if not files:
        return None
    units: list[str] = []
    for row, line in enumerate(files[0].read_text(errors="replace").splitlines(), start=1):
        values = line.split()
        if not values:
            continue
        try:
            numbers = [float(v) for v in values]
        except ValueError:
            numbers = [-1.0]
        if len(numbers) > 2 or not numbers[0].is_integer() or numbers[0] < 0:
            raise MepipeError(
                f"expected 'AU intensity' numbers such as 1.2000000e+01 0.0000000e+00, got '{line.strip()}'",
                files[0],
                row,
            )
        units.append(str(int(numbers[0])))
    return "+".join(units) or None
