"""Miniature raw micro-expression releases (CASME II, SMIC, SAMM), laid out as on disk.

Each writer reproduces its release's folder layout, frame file names (absolute frame
numbers), image format and annotation file in its real format, including the variants the
adapters must accept (sheet copies, subject spellings, folder names, raw/cropped trees).
Frames are the demo face (mepipe.demo.face) moving by a micro amplitude of 2-3 px with a
label-dependent motion, so a model can learn from them. Writers return the ground truth as
DemoClips, in manifest terms, for tests to compare ingest against.

Everything is drawn from `seed`, so writing the same release twice (say, once raw and once
cropped into the same root) gives the same clips.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
from PIL import Image

from mepipe.atomic import atomic_path, write_bytes
from mepipe.demo.face import EMOTION_MOTIONS, Look, render_clip
from mepipe.demo.truth import DemoClip
from mepipe.protocols import database_info

MICRO_AMPLITUDE = (2.0, 3.0)  # landmark displacement at the apex, frame pixels
# Look indices per database, so that no two demo subjects share a face placement.
LOOK_BASE = {"casme2": 100, "smic": 200, "samm": 300}

# What users' unpacked archives hold besides frames: never frames, never fatal.
STRAY_FILES = (".DS_Store", "Thumbs.db", "Desktop - Shortcut.lnk")

# Action-unit cells written for each label (strings as the sheets write them; an int for
# a bare number). Demo content only: nothing reads a label from these.
ACTION_UNITS: dict[str, str | int] = {
    "happiness": "6+12",
    "disgust": "4+9",
    "repression": 14,
    "surprise": "1+2",
    "others": "L10",
    "fear": "4+20",
    "sadness": "R12+R15",
    "anger": "4+7",
    "contempt": "R14",
}

CASME2_SHEETS = {
    "2014": "CASME2-coding-20140508.xlsx",
    "2019": "CASME2-coding-20190701.xlsx",
    "updated": "CASME2-coding-updated.xlsx",
    "xls": "CASME2_label_Ver_2.xls",
}
# Nine columns, two with a blank header, as in the 2014 and 2019 .xlsx copies.
CASME2_HEADER = (
    "Subject",
    "Filename",
    None,
    "OnsetFrame",
    "ApexFrame",
    "OffsetFrame",
    None,
    "Action Units",
    "Estimated Emotion",
)
CASME2_CLIP_NAMES = (
    "EP02_01f",
    "EP01_2",
    "EP06_02_01",
    "EP09f",
    "EP03_14f",
    "EP19_05f",
    "EP11_01",
    "EP13_04",
)

# Holes that real copies of the sheets have (DATASETS.md: an empty apex in about 21 rows of
# the updated CASME II sheet and three of SAMM's, '/', -1, apex == onset, mistyped offsets),
# written over the first clips of a release by `holes=True`; each name starts with the cell
# it is in, and maps to words that the clip's flag must hold. Ingest clamps the offset or
# estimates the apex and flags the clip.
SHEET_HOLES = {
    "apex empty": "cell is empty",
    "apex /": "cell is '/'",
    "apex -1": "apex frame -1 is outside onset..offset",
    "apex at onset": "is the onset frame",
    "apex past offset": "is outside onset..offset",
    "offset before apex": "before the apex frame",
    "offset past frames": "past the frames on disk",
}
# The CASME II clips of CDE classes whose apex every copy of the sheet leaves unusable and
# that the official list leaves out (cde.toml names them): (subject, clip, label, hole).
CASME2_QUIRK_CLIPS = (
    (4, "EP12_01f", "disgust", "apex /"),
    (5, "EP09_05f", "disgust", "apex at onset"),
)

SAMM_SHEETS = {
    "preamble": "SAMM_Micro_FACS_Codes_v2.xlsx",
    "single": "SAMM_20181215_Micro_FACS_Codes_v2.xlsx",
}
SAMM_HEADERS = {
    "preamble": (
        "Subject",
        "Filename",
        "Inducement Code",
        "Onset Frame",
        "Apex Frame",
        "Offset Frame",
        "Duration",
        "Micro",
        "Action Units",
        "Estimated Emotion",
        "Objective Classes",
        "Notes",
    ),
    "single": (
        "Subject",
        "Filename",
        "Inducement Code",
        "Onset",
        "Apex",
        "Offset",
        "Duration",
        "Type",
        "Action Units",
        "Emotion",
        "Classes",
        "Notes",
    ),
}
SAMM_PREAMBLE_ROWS = 13  # the header of the common v2 sheet is on row 14
SAMM_OTHER = {"preamble": "Other", "single": "Others"}  # the other class, as each copy spells it
SAMM_SUBJECTS = (6, 7, 9, 10, 11, 12, 13, 14, 15, 16, 17, 18, 19, 20)  # 008 is not in SAMM

SMIC_SUBJECTS = (1, 2, 3, 4, 5, 6, 8, 9, 11, 12, 13, 14, 15, 18, 19, 20)  # the HS subjects


@dataclass(frozen=True)
class _Clip:
    """One planned clip: what to render and where its frames are numbered."""

    index: int  # running number over the whole release (labels cycle on it)
    label: str
    onset: int
    n_frames: int
    apex_index: int
    amplitude: float

    @property
    def offset(self) -> int:
        return self.onset + self.n_frames - 1

    @property
    def apex(self) -> int:
        return self.onset + self.apex_index


def _plan(
    rng: np.random.Generator,
    index: int,
    labels: Sequence[str],
    frames: tuple[int, int],
    onset: int,
    midpoint_apex: bool = False,
) -> _Clip:
    """The next clip: its label cycles through `labels`, so every class appears."""
    low, high = frames
    if not 3 <= low <= high:
        raise ValueError(f"frames per clip must be a range of at least 3, got {frames}")
    n_frames = int(rng.integers(low, high + 1))
    if midpoint_apex:  # onset + (offset - onset) // 2
        apex_index = (n_frames - 1) // 2
    else:  # anywhere strictly inside the clip
        apex_index = int(rng.integers(1, n_frames - 1))
    amplitude = float(rng.uniform(*MICRO_AMPLITUDE))
    return _Clip(index, labels[index % len(labels)], onset, n_frames, apex_index, amplitude)


def _sheet_cells(clip: _Clip, hole: str | None) -> tuple[Any, int]:
    """The (apex, offset) cells a sheet writes for `clip`, with `hole` (SHEET_HOLES) in them."""
    apex: Any = clip.apex
    offset = clip.offset
    if hole == "apex empty":
        apex = None
    elif hole == "apex /":
        apex = "/"
    elif hole == "apex -1":
        apex = -1
    elif hole == "apex at onset":
        apex = clip.onset
    elif hole == "apex past offset":
        apex = clip.offset + 7
    elif hole == "offset before apex":
        offset = clip.apex - 1
    elif hole == "offset past frames":
        offset = clip.offset * 10  # a digit typed twice
    elif hole is not None:
        raise ValueError(f"unknown sheet hole '{hole}' (known: {', '.join(SHEET_HOLES)})")
    return apex, offset


def _hole_of(index: int, holes: bool) -> str | None:
    """The hole the sheet row of clip `index` gets: one of each over the first clips."""
    names = list(SHEET_HOLES)
    return names[index] if holes and index < len(names) else None


def _save_image(path: Path, pixels: np.ndarray, image_format: str) -> None:
    """Write one frame under a temporary name, then rename (no half-written frames)."""
    options: dict[str, Any] = {"quality": 92} if image_format == "JPEG" else {}
    with atomic_path(path) as tmp:
        Image.fromarray(pixels).save(tmp, format=image_format, **options)


def _write_frames(
    folder: Path,
    clip: _Clip,
    look_index: int,
    size: tuple[int, int],
    name: Callable[[int], str],
    image_format: str,
    gray: bool = False,
) -> None:
    look = Look.for_subject(look_index)
    pixels = render_clip(
        look, clip.label, clip.n_frames, clip.apex_index, clip.amplitude, size, gray
    )
    for offset, frame in enumerate(pixels):
        _save_image(folder / name(clip.onset + offset), frame, image_format)


def _write_strays(*folders: Path) -> None:
    """Drop the usual unpacking litter into `folders` (one stray file name per folder)."""
    for i, folder in enumerate(folders):
        folder.mkdir(parents=True, exist_ok=True)
        write_bytes(folder / STRAY_FILES[i % len(STRAY_FILES)], b"not a frame\n")


def _write_tree_strays(frames_root: Path, first: DemoClip) -> None:
    """Litter a `<frames>/<subject>/<clip>/` tree (CASME II, SAMM) at each of its three
    levels: the frames folder, the first clip's subject folder and that clip's folder."""
    _write_strays(
        frames_root, frames_root / first.subject, frames_root / first.subject / first.clip
    )


def _write_xlsx(path: Path, rows: list[Sequence[Any]]) -> None:
    import openpyxl

    workbook = openpyxl.Workbook()
    sheet = workbook.active
    sheet.title = "Sheet1"
    for row in rows:
        sheet.append(list(row))
    with atomic_path(path) as tmp:
        workbook.save(tmp)


def _write_xls(path: Path, rows: list[Sequence[Any]]) -> None:
    """Legacy Excel 97 workbook (xlwt is a test extra, so it is imported only here)."""
    import xlwt

    workbook = xlwt.Workbook()
    sheet = workbook.add_sheet("Sheet1")
    for r, row in enumerate(rows):
        for c, value in enumerate(row):
            if value is not None:
                sheet.write(r, c, value)
    with atomic_path(path) as tmp:
        workbook.save(str(tmp))


def write_casme2(
    root: Path,
    subjects: int = 3,
    clips_per_subject: int = 4,
    size: tuple[int, int] = (320, 240),
    seed: int = 0,
    *,
    subject_cells: str = "int",
    sheet: str = "2014",
    frames_dir: str | None = None,
    cropped: bool = False,
    frames: tuple[int, int] = (9, 15),
    holes: bool = False,
) -> list[DemoClip]:
    """A CASME II release: `<frames_dir>/subNN/<clip>/img{n}.jpg` and the coding sheet.

    subject_cells: "int" writes the Subject cell as 1, "text" as "01".
    sheet: "2014" / "2019" / "updated" (.xlsx, nine columns with two blank headers) or "xls"
    (the legacy CASME2_label_Ver_2.xls with the seven named columns only).
    holes: the sheet has the holes of real copies: one of each SHEET_HOLES over the first
    clips, and the rows of CASME2_QUIRK_CLIPS (sub04/EP12_01f, sub05/EP09_05f) at the end.
    The truth keeps each clip's real apex and offset, and the words its flag must hold.
    frames_dir: the frames folder name; default CASME2_RAW_selected, or Cropped when
    `cropped` (then frames are named reg_img{n}.jpg).
    The first clip starts at img3, so its frames cross img9/img10 (numeric sorting).
    """
    if subject_cells not in ("int", "text") or sheet not in CASME2_SHEETS:
        raise ValueError(f"unknown CASME II variant: subject_cells={subject_cells} sheet={sheet}")
    root = Path(root)
    frames_root = root / (frames_dir or ("Cropped" if cropped else "CASME2_RAW_selected"))
    prefix = "reg_" if cropped else ""
    labels = database_info("casme2")["labels"]
    rng = np.random.default_rng(seed)
    header = CASME2_HEADER if sheet != "xls" else tuple(h for h in CASME2_HEADER if h)
    rows: list[Sequence[Any]] = [header]
    planned: list[tuple[int, str, _Clip, str | None]] = []  # subject number, clip, plan, hole
    for s in range(subjects):
        names = _clip_names(CASME2_CLIP_NAMES, s, clips_per_subject)
        for c, clip_name in enumerate(names):
            index = s * clips_per_subject + c
            onset = 3 if index == 0 else int(rng.integers(20, 400))
            clip = _plan(rng, index, labels, frames, onset)
            planned.append((s + 1, clip_name, clip, _hole_of(index, holes)))
    for number, clip_name, label, hole in CASME2_QUIRK_CLIPS if holes else ():
        clip = _plan(rng, 0, [label], frames, int(rng.integers(20, 400)))
        planned.append((number, clip_name, clip, hole))
    truth: list[DemoClip] = []
    for number, clip_name, clip, hole in planned:
        subject = f"sub{number:02d}"
        _write_frames(
            frames_root / subject / clip_name,
            clip,
            LOOK_BASE["casme2"] + number,
            size,
            lambda n: f"{prefix}img{n}.jpg",
            "JPEG",
        )
        rows.append(_casme2_row(number, clip_name, clip, hole, subject_cells, sheet))
        extra = {
            "variant": "cropped" if cropped else "raw",
            "sheet": CASME2_SHEETS[sheet],
            "row": str(len(rows)),
        }
        truth.append(_truth("casme2", subject, clip_name, clip, number, size, extra, hole))
    writer = _write_xls if sheet == "xls" else _write_xlsx
    writer(root / CASME2_SHEETS[sheet], rows)
    _write_tree_strays(frames_root, truth[0])
    return truth


def _casme2_row(
    number: int, clip_name: str, clip: _Clip, hole: str | None, subject_cells: str, sheet: str
) -> tuple[Any, ...]:
    """One row of the CASME II coding sheet, in the columns of `sheet`'s copy."""
    cell: int | str = number if subject_cells == "int" else f"{number:02d}"
    apex, offset = _sheet_cells(clip, hole)
    aus = ACTION_UNITS[clip.label]
    full = (cell, clip_name, None, clip.onset, apex, offset, None, aus, clip.label)
    if sheet == "xls":  # the legacy copy has no blank-header columns
        full = tuple(v for v, h in zip(full, CASME2_HEADER, strict=True) if h)
    return full


def _clip_names(names: Sequence[str], subject_index: int, count: int) -> list[str]:
    """`count` distinct clip names for a subject, rotating through the release's real ones."""
    rotated = [names[(subject_index + i) % len(names)] for i in range(min(count, len(names)))]
    return rotated + [f"EP{20 + i:02d}_01" for i in range(count - len(rotated))]


def _truth(
    database: str,
    subject: str,
    clip_id: str,
    clip: _Clip,
    subject_number: int,
    size: tuple[int, int],
    extra: dict[str, str],
    hole: str | None = None,
    apex: int | None = None,
) -> DemoClip:
    return DemoClip(
        database=database,
        subject=subject,
        clip=clip_id,
        label=clip.label,
        onset=clip.onset,
        apex=clip.apex if apex is None else apex,
        offset=clip.offset,
        frame_numbers=list(range(clip.onset, clip.offset + 1)),
        motions=EMOTION_MOTIONS[clip.label],
        amplitude=clip.amplitude,
        look=LOOK_BASE[database] + subject_number,
        size=size,
        extra=extra,
        hole=hole,
        flagged=SHEET_HOLES[hole] if hole else None,
    )


def write_samm(
    root: Path,
    subjects: int = 3,
    clips_per_subject: int = 4,
    size: tuple[int, int] = (384, 216),
    seed: int = 0,
    *,
    sheet: str = "preamble",
    subject_cells: str = "int",
    frames: tuple[int, int] = (9, 15),
    holes: bool = False,
) -> list[DemoClip]:
    """A SAMM release: `SAMM/006/006_1_2/006_05562.jpg` (grayscale) and the FACS codes sheet.

    sheet: "preamble" (SAMM_Micro_FACS_Codes_v2.xlsx, 13 preamble rows, header on row 14,
    long column names, `Other`) or "single" (SAMM_20181215_Micro_FACS_Codes_v2.xlsx, one
    header row, short names, `Others`).
    subject_cells: "int" writes the Subject cell as 6, "text" as "006".
    holes: one of each SHEET_HOLES over the first clips' rows (as write_casme2).
    """
    if subject_cells not in ("int", "text") or sheet not in SAMM_SHEETS:
        raise ValueError(f"unknown SAMM variant: subject_cells={subject_cells} sheet={sheet}")
    if subjects > len(SAMM_SUBJECTS):
        raise ValueError(f"at most {len(SAMM_SUBJECTS)} demo SAMM subjects")
    root = Path(root)
    frames_root = root / "SAMM"
    labels = database_info("samm")["labels"]
    rng = np.random.default_rng(seed)
    rows: list[Sequence[Any]] = []
    if sheet == "preamble":
        rows += _samm_preamble()
    rows.append(SAMM_HEADERS[sheet])
    truth: list[DemoClip] = []
    for s in range(subjects):
        number = SAMM_SUBJECTS[s]
        subject = f"{number:03d}"
        for c in range(clips_per_subject):
            index = s * clips_per_subject + c
            clip = _plan(rng, index, labels, frames, onset=int(rng.integers(1000, 9000)))
            inducement = 1 + c // 2
            clip_name = f"{subject}_{inducement}_{c + 2}"
            _write_frames(
                frames_root / subject / clip_name,
                clip,
                LOOK_BASE["samm"] + number,
                size,
                lambda n, subject=subject: f"{subject}_{n:05d}.jpg",
                "JPEG",
                gray=True,
            )
            emotion = SAMM_OTHER[sheet] if clip.label == "others" else clip.label.capitalize()
            hole = _hole_of(index, holes)
            apex, offset = _sheet_cells(clip, hole)
            rows.append(
                (
                    number if subject_cells == "int" else subject,
                    clip_name,
                    inducement,
                    clip.onset,
                    apex,
                    offset,
                    clip.n_frames,
                    "Micro",
                    ACTION_UNITS[clip.label],
                    emotion,
                    None,
                    None,
                )
            )
            extra = {"sheet": SAMM_SHEETS[sheet], "row": str(len(rows))}
            truth.append(_truth("samm", subject, clip_name, clip, number, size, extra, hole))
    _write_xlsx(root / SAMM_SHEETS[sheet], rows)
    _write_tree_strays(frames_root, truth[0])
    return truth


def _samm_preamble() -> list[Sequence[Any]]:
    """Thirteen rows of title and notes above the header, as in the common v2 sheet."""
    lines: list[Sequence[Any]] = [
        ("SAMM: Spontaneous Actions and Micro-Movements (demo copy)",),
        (),
        ("Micro-movement FACS codes, version 2",),
        (),
        ("Onset, apex and offset are absolute frame numbers within each recording.",),
        ("Duration is in frames at 200 fps.",),
        ("Emotion is the estimated emotion of the movement.",),
    ]
    lines += [()] * (SAMM_PREAMBLE_ROWS - len(lines))
    return lines


def write_smic(
    root: Path,
    subjects: int = 3,
    clips_per_subject: int = 4,
    size: tuple[int, int] = (320, 240),
    seed: int = 0,
    *,
    subsets: tuple[str, ...] = ("HS",),
    cropped: bool = False,
    frames: tuple[int, int] = (9, 15),
) -> list[DemoClip]:
    """A SMIC release: `SMIC_all_raw/HS/s1/micro/negative/s1_ne_01/image090823.bmp`.

    VIS and NIR frames are `00123.bmp` (NIR grayscale); `cropped` writes
    `SMIC_all_cropped/...` with `reg_` frame names. Each subject also gets a `non_micro`
    folder, which ingest must skip. SMIC has no apex annotation: the motion peaks at the
    midpoint frame, which is what ingest reports by default.
    """
    unknown = [s for s in subsets if s not in ("HS", "VIS", "NIR")]
    if unknown or subjects > len(SMIC_SUBJECTS):
        raise ValueError(f"unknown SMIC subsets {unknown} or too many subjects ({subjects})")
    root = Path(root)
    tree = root / ("SMIC_all_cropped" if cropped else "SMIC_all_raw")
    labels = database_info("smic")["labels"]
    # The clip code in a folder name (s1_ne_01) of each label (databases.toml `codes`).
    code_of = {label: code for code, label in database_info("smic")["codes"].items()}
    rng = np.random.default_rng(seed)
    truth: list[DemoClip] = []
    for subset in subsets:
        gray = subset == "NIR"
        name = _smic_frame_name(subset, cropped)
        clip_dirs: list[Path] = []
        for s in range(subjects):
            number = SMIC_SUBJECTS[s]
            subject = f"s{number}"
            subject_dir = tree / subset / subject
            counts: dict[str, int] = {}
            for c in range(clips_per_subject):
                index = s * clips_per_subject + c
                if subset == "HS":
                    onset = int(rng.integers(10000, 400000))
                else:
                    onset = int(rng.integers(100, 5000))
                clip = _plan(rng, index, labels, frames, onset, midpoint_apex=True)
                counts[clip.label] = counts.get(clip.label, 0) + 1
                folder = f"{subject}_{code_of[clip.label]}_{counts[clip.label]:02d}"
                clip_dir = subject_dir / "micro" / clip.label / folder
                _write_frames(clip_dir, clip, LOOK_BASE["smic"] + number, size, name, "BMP", gray)
                clip_dirs.append(clip_dir)
                clip_id = folder if subset == "HS" else f"{subset}-{folder}"
                extra = {"subset": subset, "variant": "cropped" if cropped else "raw"}
                truth.append(_truth("smic", subject, clip_id, clip, number, size, extra))
            _write_non_micro(subject_dir / "non_micro" / f"{subject}_no_01", size, name, gray)
        if clip_dirs:
            _write_strays(tree / subset, clip_dirs[0].parents[2], clip_dirs[0])
    return truth


def _smic_frame_name(subset: str, cropped: bool) -> Callable[[int], str]:
    """HS `image090823.bmp`, VIS/NIR `00123.bmp`; cropped frames carry a `reg_` prefix."""
    prefix = "reg_" if cropped else ""
    if subset == "HS":
        return lambda n: f"{prefix}image{n:06d}.bmp"
    return lambda n: f"{prefix}{n:05d}.bmp"


def _write_non_micro(
    folder: Path, size: tuple[int, int], name: Callable[[int], str], gray: bool
) -> None:
    """A few neutral frames of a clip that is not a micro-expression (ingest skips these)."""
    clip = _Clip(0, "others", 500, 3, 1, 0.0)
    _write_frames(folder, clip, LOOK_BASE["smic"], size, name, "BMP", gray)


MICRO_WRITERS: dict[str, Callable[..., list[DemoClip]]] = {
    "casme2": write_casme2,
    "smic": write_smic,
    "samm": write_samm,
}
