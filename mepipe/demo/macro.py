"""Miniature CK+, Oulu-CASIA and MMI releases, laid out exactly as the real ones on disk.

Each writer renders a few subjects (distinct `Look`s) with the animated demo face at macro
amplitude (10-15 px at the peak) and returns the DemoClips it wrote: the ground truth that
the adapters' output is compared with. Unlabelled sequences come back with label None.
Label names and codes are read from manifests/databases.toml, never repeated here.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from pathlib import Path

import cv2
import numpy as np

from mepipe.atomic import atomic_path, write_bytes
from mepipe.demo.face import EMOTION_MOTIONS, Look, landmarks_in_frame, render_clip
from mepipe.demo.truth import DemoClip
from mepipe.protocols import database_info

AMPLITUDE = (10.0, 15.0)  # landmark displacement at the peak, frame pixels
FRAMES = (6, 10)  # sequence length, inclusive
# Separate look ranges, so that no demo subject of one release is a subject of another.
LOOK_BASE = {"ckplus": 100, "oulu": 200, "mmi": 300}

# The FACS action units each demo motion imitates (see mepipe.demo.face.MOTIONS).
MOTION_UNITS: dict[str, tuple[int, ...]] = {
    "brow_lower": (4,),
    "brow_raise": (1, 2),
    "smile": (6, 12),
    "jaw_drop": (26,),
    "nose_wrinkle": (9, 10),
    "lip_press": (24,),
    "lip_depress": (15,),
    "half_smile": (14,),
    "lip_stretch": (20,),
    "lid_tighten": (7,),
}

# CK+ ways of leaving a sequence unlabelled, as found in the real release.
CKPLUS_UNLABELLED = ("no file", "empty folder", "no folder")
# CK+ frame sizes relative to 640x490: 640x490, 640x480 and 720x480 all occur.
CKPLUS_SIZES = ((1.0, 1.0), (1.0, 480 / 490), (720 / 640, 480 / 490))
OULU_LIGHT = {"Strong": 1.0, "Weak": 0.6, "Dark": 0.3}
MMI_UNUSED_CODE = 7
# (subject, sequence) positions of the CK+ sequence filmed with a second person beside the
# subject: ingest with alignment must reject it for several faces.
CKPLUS_SECOND_PERSON = (1, 0)


def action_units(motions: Sequence[str]) -> str:
    """The action units that `motions` imitate, sorted and joined: `6+12`."""
    units = sorted({u for motion in motions for u in MOTION_UNITS[motion]})
    return "+".join(str(u) for u in units)


def _codes(database: str) -> dict[str, int]:
    """Label name -> the numeric code the release stores (databases.toml `codes`)."""
    return {name: int(code) for code, name in database_info(database)["codes"].items()}


def _write_image(path: Path, image: np.ndarray) -> None:
    """PNG/JPEG by suffix, written under a temporary name first (see mepipe.atomic)."""
    if image.ndim == 3:
        image = cv2.cvtColor(image, cv2.COLOR_RGB2BGR)
    ok, data = cv2.imencode(path.suffix, image)
    if not ok:
        raise RuntimeError(f"cannot encode {path}")
    write_bytes(path, data.tobytes())


def _write_text(path: Path, text: str) -> None:
    write_bytes(path, text.encode())


def _write_video(path: Path, frames: list[np.ndarray], fps: float) -> None:
    """MJPG AVI, under a temporary name that keeps the suffix, then renamed.

    OpenCV's own MJPEG writer rather than FFmpeg's: FFmpeg's rate control encodes the first
    frame differently from the rest, so a neutral last frame would not match the first.
    """
    with atomic_path(path, suffix=path.suffix) as tmp:
        height, width = frames[0].shape[:2]
        writer = cv2.VideoWriter(
            str(tmp),
            cv2.CAP_OPENCV_MJPEG,
            cv2.VideoWriter_fourcc(*"MJPG"),
            fps,
            (width, height),
            [cv2.VIDEOWRITER_PROP_QUALITY, 90],
        )
        if not writer.isOpened():
            raise RuntimeError(f"cannot write video {path}")
        for frame in frames:
            writer.write(cv2.cvtColor(frame, cv2.COLOR_RGB2BGR))
        writer.release()


def _numbers(rng: np.random.Generator, count: int, upto: int) -> list[int]:
    """`count` distinct sorted ids from 1..upto (subjects and sequences are not contiguous)."""
    return sorted(int(n) for n in rng.choice(np.arange(1, upto + 1), size=count, replace=False))


def _sci(*values: float) -> str:
    """One line of CK+ numbers: `   3.0000000e+00`."""
    return "".join(f"   {v:.7e}" for v in values) + "\n"


def write_ckplus(
    root: Path,
    subjects: int = 3,
    sequences_per_subject: int = 4,
    size: tuple[int, int] = (320, 245),
    seed: int = 0,
    *,
    nested: bool = False,
) -> list[DemoClip]:
    """A CK+ release: PNG sequences neutral -> peak, Emotion/FACS/Landmarks text files.

    Frames are mostly grayscale, one sequence in four RGB; subjects cycle through the
    release's three frame sizes (scaled from `size`). The last sequence of each subject is
    left unlabelled, in turn with no emotion file, an empty folder and no folder. `nested`
    puts the images one level deeper and each label archive in a folder of its own.
    """
    rng = np.random.default_rng(seed)
    root = Path(root)
    images = root / "extended-cohn-kanade-images" if nested else root
    emotion, facs, marks = (
        (root / f"{name}_labels" if nested else root) / name
        for name in ("Emotion", "FACS", "Landmarks")
    )
    labels = database_info("ckplus")["labels"]
    codes = _codes("ckplus")
    clips = []
    for i, number in enumerate(_numbers(rng, subjects, 999)):
        subject = f"S{number:03d}"
        look_index = LOOK_BASE["ckplus"] + i
        look = Look.for_subject(look_index)
        sx, sy = CKPLUS_SIZES[i % len(CKPLUS_SIZES)]
        frame_size = (round(size[0] * sx), round(size[1] * sy))
        for j, seq_number in enumerate(_numbers(rng, sequences_per_subject, 20)):
            sequence = f"{seq_number:03d}"
            label = str(rng.choice(labels))
            n = int(rng.integers(FRAMES[0], FRAMES[1] + 1))
            amplitude = float(rng.uniform(*AMPLITUDE))
            gray = (i + j) % 4 != 1
            crowded = (i, j) == CKPLUS_SECOND_PERSON and sequences_per_subject > 1
            frames = render_clip(look, label, n, n - 1, amplitude, frame_size, gray, crowded)
            stem = f"{subject}_{sequence}"
            seq_dir = Path(subject) / sequence
            landmarks = landmarks_in_frame(look, frame_size)  # neutral positions
            for k, frame in enumerate(frames, start=1):
                _write_image(images / "cohn-kanade-images" / seq_dir / f"{stem}_{k:08d}.png", frame)
                _write_text(
                    marks / seq_dir / f"{stem}_{k:08d}_landmarks.txt",
                    "".join(_sci(x, y) for x, y in landmarks.values()),
                )
            motions = EMOTION_MOTIONS[label]
            units = [int(u) for u in action_units(motions).split("+")]
            intensities = rng.integers(0, 6, size=len(units))
            _write_text(
                facs / seq_dir / f"{stem}_{n:08d}_facs.txt",
                "".join(_sci(u, float(s)) for u, s in zip(units, intensities, strict=True)),
            )
            unlabelled = sequences_per_subject > 1 and j == sequences_per_subject - 1
            if not unlabelled:
                _write_text(emotion / seq_dir / f"{stem}_{n:08d}_emotion.txt", _sci(codes[label]))
            elif CKPLUS_UNLABELLED[i % 3] == "no file":
                _write_text(emotion / seq_dir / ".DS_Store", "Finder was here\n")
            elif CKPLUS_UNLABELLED[i % 3] == "empty folder":
                (emotion / seq_dir).mkdir(parents=True, exist_ok=True)
            else:  # no folder, but make sure the subject's Emotion folder exists
                (emotion / subject).mkdir(parents=True, exist_ok=True)
            clips.append(
                DemoClip(
                    database="ckplus",
                    subject=subject,
                    clip=sequence,
                    label=None if unlabelled else label,
                    onset=1,
                    apex=n,
                    offset=n,
                    frame_numbers=list(range(1, n + 1)),
                    motions=motions,
                    amplitude=amplitude,
                    look=look_index,
                    size=frame_size,
                    align_rejected="2 faces on frame 1" if crowded else None,
                )
            )
    return clips


def write_oulu(
    root: Path,
    subjects: int = 3,
    size: tuple[int, int] = (320, 240),
    seed: int = 0,
    *,
    modalities: Sequence[tuple[str, str]] = (("VL", "Strong"),),
    top: str = "OriginalImg",
) -> list[DemoClip]:
    """An Oulu-CASIA release: every subject shows all six emotions, neutral -> peak, as JPEGs.

    One clip per (modality, lighting) pair in `modalities`; the same performance is seen
    by every camera, NI frames grayscale, weaker lighting darker. `top` names the top
    folder; a `PreProcess_Img...` top holds `VL_Acropped`-style modality folders.
    """
    rng = np.random.default_rng(seed)
    root = Path(root)
    suffix = "_Acropped" if "PreProcess" in top else ""
    labels = database_info("oulu")["labels"]
    clips = []
    for i, number in enumerate(_numbers(rng, subjects, 80)):
        subject = f"P{number:03d}"
        look_index = LOOK_BASE["oulu"] + i
        look = Look.for_subject(look_index)
        for label in labels:
            folder = label.capitalize()  # the release's emotion folders: Anger, Disgust, ...
            n = int(rng.integers(FRAMES[0], FRAMES[1] + 1))
            amplitude = float(rng.uniform(*AMPLITUDE))
            frames = render_clip(look, label, n, n - 1, amplitude, size)
            for modality, lighting in modalities:
                clip_dir = root / top / f"{modality}{suffix}" / lighting / subject / folder
                for k, frame in enumerate(frames):
                    shot = (frame.astype(np.float32) * OULU_LIGHT[lighting]).astype(np.uint8)
                    if modality == "NI":
                        shot = cv2.cvtColor(shot, cv2.COLOR_RGB2GRAY)
                    _write_image(clip_dir / f"{k:03d}.jpeg", shot)
                clips.append(
                    DemoClip(
                        database="oulu",
                        subject=subject,
                        clip=folder,
                        label=label,
                        onset=0,
                        apex=n - 1,
                        offset=n - 1,
                        frame_numbers=list(range(n)),
                        motions=EMOTION_MOTIONS[label],
                        amplitude=amplitude,
                        look=look_index,
                        size=size,
                        extra={"modality": modality, "lighting": lighting},
                    )
                )
    return clips


def _metadata_xml(code: int, rng: np.random.Generator) -> str:
    """A per-video MMI metadata file: several Metatags, the Emotion one among them."""
    gender = "Female" if rng.random() < 0.5 else "Male"
    return (
        '<?xml version="1.0" encoding="utf-8"?>\n<Metatags>\n'
        f'  <Metatag Name="Gender" Value="{gender}" />\n'
        f'  <Metatag Name="Age" Value="{int(rng.integers(19, 62))}" />\n'
        f'  <Metatag Name="Emotion" Value="{code}" />\n'
        '  <Metatag Name="Glasses" Value="0" />\n'
        '  <Metatag Name="Pose" Value="Frontal" />\n'
        "</Metatags>\n"
    )


def _markers_xml(units: list[int], onset: int, apex: int, offset: int) -> str:
    """An `-oao_aucs.xml` file: the first unit spans onset..offset with the apex, the others
    start later, peak later and end earlier; a neutral (type 0) marker opens each."""
    lines = ['<?xml version="1.0" encoding="utf-8"?>', "<ActionUnits>"]
    for k, unit in enumerate(units):
        spans = (onset, apex, offset) if k == 0 else (onset + 1, apex + 1, offset - 1)
        lines.append(f'  <ActionUnit Number="{unit}">')
        lines.append('    <Marker Frame="1" Type="0" />')
        lines += [f'    <Marker Frame="{f}" Type="{t}" />' for t, f in enumerate(spans, start=1)]
        lines.append("  </ActionUnit>")
    return "\n".join([*lines, "</ActionUnits>", ""])


def write_mmi(
    root: Path,
    subjects: int = 3,
    sessions_per_subject: int = 3,
    size: tuple[int, int] = (360, 288),
    seed: int = 0,
) -> list[DemoClip]:
    """An MMI release: one MJPG video per session, neutral -> peak -> neutral.

    Every other session has onset/apex/offset markers. The first subject's second session
    holds a still image instead of a video, and the last session uses an emotion code the
    protocol does not (both unlabelled, label None).
    """
    rng = np.random.default_rng(seed)
    root = Path(root)
    fps = float(database_info("mmi")["fps"])
    labels = database_info("mmi")["labels"]
    codes = _codes("mmi")
    session_id = int(rng.integers(1, 100))
    clips = []
    for i, number in enumerate(_numbers(rng, subjects, 99)):
        subject = f"S{number:03d}"
        look_index = LOOK_BASE["mmi"] + i
        look = Look.for_subject(look_index)
        for j in range(sessions_per_subject):
            session_id += int(rng.integers(1, 6))
            folder = root / "Sessions" / str(session_id)
            stem = f"{subject}-{j + 1:03d}"
            label = str(rng.choice(labels))
            still = i == 0 and j == 1
            unused = i == subjects - 1 and j == sessions_per_subject - 1 and not still
            # neutral -> peak -> neutral needs more frames than a sequence ending at the peak,
            # and markers trim two of them: keep at least five from onset to offset.
            n = int(rng.integers(FRAMES[0], FRAMES[1] + 1)) + 3
            amplitude = float(rng.uniform(*AMPLITUDE))
            marked = j % 2 == 0 and not still
            if marked:
                onset, offset = 2, n - 1
                apex = int(rng.integers(3, n - 2))
            else:
                onset, offset = 1, n
                apex = onset + (offset - onset) // 2
            motions = EMOTION_MOTIONS[label]
            frames = render_clip(look, label, n, apex - 1, amplitude, size)
            _write_text(
                folder / "session.xml",
                f'<?xml version="1.0" encoding="utf-8"?>\n<Session SessionId="{session_id}" '
                f'Subject="{subject}">\n  <Track Id="0" Filename="{stem}{".jpg" if still else ".avi"}" />\n'
                "</Session>\n",
            )
            code = MMI_UNUSED_CODE if unused else codes[label]
            _write_text(folder / f"{stem}.xml", _metadata_xml(code, rng))
            extra = {"session": str(session_id)}
            if still:
                _write_image(folder / f"{stem}.jpg", frames[apex - 1])
                onset = apex = offset = n = 1
            else:
                _write_video(folder / f"{stem}.avi", frames, fps)
            if marked:
                units = [int(u) for u in action_units(motions).split("+")]
                extra["markers"] = f"{stem}-oao_aucs.xml"
                _write_text(folder / extra["markers"], _markers_xml(units, onset, apex, offset))
            clips.append(
                DemoClip(
                    database="mmi",
                    subject=subject,
                    clip=stem,
                    label=None if still or unused else label,
                    onset=onset,
                    apex=apex,
                    offset=offset,
                    frame_numbers=list(range(1, n + 1)),
                    motions=motions,
                    amplitude=amplitude,
                    look=look_index,
                    size=size,
                    extra=extra,
                )
            )
    return clips


MACRO_WRITERS: dict[str, Callable[..., list[DemoClip]]] = {
    "ckplus": write_ckplus,
    "oulu": write_oulu,
    "mmi": write_mmi,
}
