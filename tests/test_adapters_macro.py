"""CK+, Oulu-CASIA and MMI adapters against miniature demo releases and their ground truth.

Each demo release is written once per module (tiny frames) and copied before a test mutates
it into bad input.
"""

from __future__ import annotations

import re
import shutil
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np
import pytest
from PIL import Image

from mepipe.adapters import ParseResult, adapter_options, get_adapter, open_release
from mepipe.demo.macro import MACRO_WRITERS, action_units, write_ckplus
from mepipe.demo.truth import DemoClip
from mepipe.errors import MepipeError
from mepipe.frames import frame_number
from mepipe.images import read_video_frames
from mepipe.protocols import database_info
from mepipe.records import ApexSource, ClipRecord, clip_key

Release = tuple[Path, list[DemoClip]]


@dataclass(frozen=True)
class Variant:
    database: str
    write: dict[str, Any]
    options: dict[str, Any] = field(default_factory=dict)  # mepipe.adapters.adapter_options


VARIANTS = {
    "ckplus": Variant("ckplus", {"size": (96, 74)}),
    "ckplus-nested": Variant("ckplus", {"size": (96, 74), "nested": True, "seed": 1}),
    # Full-size frames where a test looks at the motion in the pictures.
    "oulu": Variant("oulu", {"subjects": 2}),
    "oulu-NI-Dark": Variant(
        "oulu",
        {"size": (80, 60), "subjects": 2, "modalities": (("VL", "Strong"), ("NI", "Dark"))},
        {"modality": "NI", "lighting": "Dark"},
    ),
    "oulu-preprocessed": Variant(
        "oulu", {"size": (80, 60), "subjects": 2, "top": "PreProcess_Img", "seed": 2}
    ),
    "oulu-preprocessed-NI-Weak": Variant(
        "oulu",
        {
            "size": (80, 60),
            "subjects": 1,
            "top": "Oulu_CASIA_NIR_VIS/PreProcess_Img",
            "modalities": (("NI", "Weak"), ("NI", "Strong")),
        },
        {"modality": "NI", "lighting": "Weak", "variant": "cropped"},
    ),
    "mmi": Variant("mmi", {}),
    "mmi-more-sessions": Variant(
        "mmi", {"size": (96, 72), "subjects": 2, "sessions_per_subject": 4, "seed": 3}
    ),
}


@pytest.fixture(scope="module")
def written(tmp_path_factory: pytest.TempPathFactory) -> Callable[[str], Release]:
    """Write a variant's demo release on first use; later uses share it (read only)."""
    cache: dict[str, Release] = {}

    def get(name: str) -> Release:
        if name not in cache:
            variant = VARIANTS[name]
            root = tmp_path_factory.mktemp(name)
            cache[name] = (root, MACRO_WRITERS[variant.database](root, **variant.write))
        return cache[name]

    return get


@pytest.fixture
def fresh(written: Callable[[str], Release], tmp_path: Path) -> Callable[[str], Release]:
    """A private copy of a variant's release, to mutate into bad input."""

    def get(name: str) -> Release:
        root, clips = written(name)
        copy = tmp_path / "release"
        shutil.copytree(root, copy)
        return copy, clips

    return get


def parse(name: str, root: Path, **options: Any) -> ParseResult:
    variant = VARIANTS[name]
    chosen = adapter_options(variant.database, **{**variant.options, **options})
    return open_release(variant.database, root, chosen).parse()


def selected(name: str, clips: list[DemoClip]) -> list[DemoClip]:
    """The ground-truth clips a parse with the variant's options must return."""
    options = VARIANTS[name].options
    if VARIANTS[name].database == "oulu":
        wanted = {"modality": "VL", "lighting": "Strong"}  # OuluOptions' defaults
        wanted.update({k: v for k, v in options.items() if k in wanted})
        clips = [c for c in clips if c.extra == wanted]
    return clips


def by_key(result: ParseResult) -> dict[str, ClipRecord]:
    keys = [r.key for r in result.records]
    assert len(keys) == len(set(keys)), "clip keys repeat"
    return dict(zip(keys, result.records, strict=True))


def expected_record(truth: DemoClip) -> dict[str, Any]:
    """Every ClipRecord field, as the demo writer knows it must be."""
    marked = "markers" in truth.extra
    if truth.database == "mmi":
        source = ApexSource.OAO_MARKER if marked else ApexSource.MIDPOINT
    else:
        source = ApexSource.LAST_FRAME
    units = None
    if truth.database == "ckplus" or marked:
        units = action_units(truth.motions)
    return {
        "database": truth.database,
        "subject": truth.subject,
        "clip": truth.clip,
        "label": truth.label,
        "numbers": tuple(truth.frame_numbers),
        "onset": truth.onset,
        "apex": truth.apex,
        "offset": truth.offset,
        "apex_source": source,
        "fps": float(database_info(truth.database)["fps"]),
        "size": truth.size,
        "action_units": units,
        "extra": truth.extra,
        "reject_reason": None,
    }


def actual_record(record: ClipRecord) -> dict[str, Any]:
    return {
        "database": record.database,
        "subject": record.subject,
        "clip": record.clip,
        "label": record.label,
        "numbers": record.source.numbers,
        "onset": record.onset,
        "apex": record.apex,
        "offset": record.offset,
        "apex_source": record.apex_source,
        "fps": record.fps,
        "size": (record.width, record.height),
        "action_units": record.action_units,
        "extra": record.extra,
        "reject_reason": record.reject_reason,
    }


def check_source(record: ClipRecord, root: Path) -> None:
    """Frame paths (or the video) exist inside the release and carry the frame numbers."""
    if record.database == "mmi":
        video = Path(record.source.video or "")
        assert video.name == f"{record.clip}.avi" and video.is_file()
        assert video.parent.name == record.extra["session"] and root in video.parents
        assert record.source.paths == ()
        return
    paths = [Path(p) for p in record.source.paths]
    assert [frame_number(p) for p in paths] == list(record.source.numbers)
    assert all(p.is_file() and root in p.parents for p in paths)
    if record.database == "oulu":
        assert {p.parent.name for p in paths} == {record.clip}
        assert paths[0].parents[2].name == record.extra["lighting"]


def record_of(result: ParseResult, clip: DemoClip) -> ClipRecord:
    return by_key(result)[clip_key(clip.database, clip.subject, clip.clip)]


def labelled(clips: list[DemoClip]) -> list[DemoClip]:
    return [c for c in clips if c.label is not None]


# --- every variant against its ground truth ---------------------------------------------


@pytest.mark.parametrize("name", sorted(VARIANTS))
def test_records_match_ground_truth(name: str, written: Callable[[str], Release]) -> None:
    root, clips = written(name)
    result = parse(name, root)
    truth = selected(name, clips)
    records = by_key(result)
    expected_keys = {clip_key(c.database, c.subject, c.clip) for c in labelled(truth)}
    assert set(records) == expected_keys
    for clip in labelled(truth):
        record = records[clip_key(clip.database, clip.subject, clip.clip)]
        assert actual_record(record) == expected_record(clip), record.key
        check_source(record, root)
    assert len(result.unlabelled) == len(truth) - len(labelled(truth))


@pytest.mark.parametrize("name", ["ckplus", "ckplus-nested"])
def test_ckplus_unlabelled_sequences_counted_each_way(
    name: str, written: Callable[[str], Release]
) -> None:
    root, clips = written(name)
    result = parse(name, root)
    unlabelled = sorted(f"{c.subject}/{c.clip}" for c in clips if c.label is None)
    assert len(unlabelled) == 3
    assert sorted(u.split(":")[0] for u in result.unlabelled) == unlabelled
    reasons = " | ".join(result.unlabelled)
    assert "holds no _emotion.txt" in reasons
    assert "is empty" in reasons
    assert "folder" in reasons and "no Emotion/" in reasons
    # The Finder file in the "no file" folder is the release's only stray file.
    assert [Path(p).name for p in result.stray_files] == [".DS_Store"]


def test_ckplus_without_emotion_folder_is_all_unlabelled(fresh: Callable[[str], Release]) -> None:
    root, clips = fresh("ckplus")
    shutil.rmtree(root / "Emotion")
    result = parse("ckplus", root)
    assert result.records == []
    assert len(result.unlabelled) == len(clips)
    assert result.notes == ["no Emotion folder found: every sequence is unlabelled"]


@pytest.mark.parametrize("name", ["mmi", "mmi-more-sessions"])
def test_mmi_markers_still_images_and_unused_codes(
    name: str, written: Callable[[str], Release]
) -> None:
    root, clips = written(name)
    result = parse(name, root)
    assert {r.apex_source for r in result.records} == {ApexSource.OAO_MARKER, ApexSource.MIDPOINT}
    still = [c for c in clips if c.frame_numbers == [1]]
    assert len(still) == 1
    assert f"session {still[0].extra['session']}: still images, no video" in result.unlabelled
    unused = [c for c in clips if c.label is None and c not in still]
    assert [f"{c.clip}: emotion code 7 not used" for c in unused] == [
        u for u in result.unlabelled if "code" in u
    ]
    assert result.stray_files == []


def test_oulu_cropped_variant_chosen_when_both_present(
    written: Callable[[str], Release], tmp_path: Path
) -> None:
    original, _ = written("oulu")
    preprocessed, truth = written("oulu-preprocessed")
    root = tmp_path / "both"
    shutil.copytree(original, root)
    shutil.copytree(preprocessed / "PreProcess_Img", root / "PreProcess_Img")
    raw = parse("oulu", root)
    assert all("/OriginalImg/VL/Strong/" in r.source.paths[0] for r in raw.records)
    assert raw.notes == []
    cropped = parse("oulu-preprocessed", root, variant="cropped")
    assert all("/PreProcess_Img/VL_Acropped/" in r.source.paths[0] for r in cropped.records)
    assert {r.key for r in cropped.records} == {
        clip_key(c.database, c.subject, c.clip) for c in truth
    }


def test_oulu_notes_a_missing_variant(written: Callable[[str], Release]) -> None:
    root, _ = written("oulu-preprocessed")
    result = parse("oulu-preprocessed", root)  # asks for raw frames, only cropped exist
    assert result.notes == ["no raw frames; using PreProcess_Img/VL_Acropped"]


@pytest.mark.parametrize(
    ("name", "database", "others"),
    [
        ("ckplus", "CK+", ["oulu", "mmi"]),
        ("oulu", "Oulu-CASIA", ["ckplus", "mmi"]),
        ("mmi", "MMI", ["ckplus", "oulu"]),
    ],
)
def test_wrong_database_is_named(
    name: str, database: str, others: list[str], written: Callable[[str], Release]
) -> None:
    root, _ = written(name)
    for other in others:
        with pytest.raises(MepipeError, match=f"does not look like .*; it looks like {database}"):
            open_release(other, root)


@pytest.mark.parametrize("database", ["ckplus", "oulu", "mmi"])
def test_folder_without_release_is_named(database: str, tmp_path: Path) -> None:
    (tmp_path / "notes.txt").write_text("nothing here")
    adapter = get_adapter(database)(tmp_path)
    with pytest.raises(MepipeError) as info:
        adapter.parse()
    assert info.value.path == str(tmp_path) and "no " in info.value.message


# --- the demo writers lay out what the real releases hold --------------------------------


def test_ckplus_demo_mixes_gray_rgb_and_sizes(written: Callable[[str], Release]) -> None:
    root, clips = written("ckplus")
    modes, sizes = set(), set()
    for png in sorted(root.glob("cohn-kanade-images/*/*/*.png")):
        with Image.open(png) as image:
            modes.add(image.mode)
            sizes.add(image.size)
    assert modes == {"L", "RGB"}
    assert sizes == {c.size for c in clips} and len(sizes) == 3
    emotion = next(root.glob("Emotion/*/*/*_emotion.txt")).read_text()
    assert emotion.startswith("   ") and emotion.strip().endswith("e+00")
    assert next(root.glob("Landmarks/*/*/*_landmarks.txt")).read_text().count("\n") >= 5


def test_oulu_demo_moves_from_neutral_to_peak(written: Callable[[str], Release]) -> None:
    """Frames drift steadily away from the neutral first frame; subjects look different."""
    root, clips = written("oulu")
    for clip in clips[:3]:
        folder = root / "OriginalImg/VL/Strong" / clip.subject / clip.clip
        frames = [np.asarray(Image.open(p), np.float32) for p in sorted(folder.glob("*.jpeg"))]
        assert len(frames) == len(clip.frame_numbers) and 6 <= len(frames) <= 10
        drift = [float(np.abs(f - frames[0]).mean()) for f in frames]
        assert all(b > a - 0.3 for a, b in zip(drift[1:], drift[2:], strict=False)), drift
        assert drift[-1] > drift[1] + 0.5 and 10 <= clip.amplitude <= 15
    assert len({c.look for c in clips}) == 2


def test_mmi_demo_peaks_at_the_ground_truth_apex(written: Callable[[str], Release]) -> None:
    """Neutral -> peak -> neutral: the apex frame is the one farthest from frame 1."""
    root, clips = written("mmi")
    for clip in labelled(clips):
        video = root / "Sessions" / clip.extra["session"] / f"{clip.clip}.avi"
        frames = read_video_frames(str(video), clip.frame_numbers)
        drift = [float(np.abs(frames[n].astype(np.float32) - frames[1]).mean()) for n in frames]
        assert int(np.argmax(drift)) + 1 == clip.apex, (clip.clip, drift)
        assert drift[-1] < 0.5 * max(drift)


# --- stray files ---------------------------------------------------------------------------


STRAYS: dict[str, list[str]] = {
    "ckplus": [
        "Thumbs.db",
        "cohn-kanade-images/.DS_Store",
        "cohn-kanade-images/{subject}/Desktop - Shortcut.lnk",
        "cohn-kanade-images/{subject}/{clip}/._{subject}_{clip}_00000001.png",
        "cohn-kanade-images/{subject}/{clip}/notes.txt",
    ],
    "oulu": [
        "OriginalImg/VL/Strong/.DS_Store",
        "OriginalImg/VL/Strong/{subject}/Thumbs.db",
        "OriginalImg/VL/Strong/{subject}/{clip}/._000.jpeg",
        "OriginalImg/VL/Strong/{subject}/{clip}/Desktop - Shortcut.lnk",
    ],
    "mmi": ["Sessions/.DS_Store", "Sessions/{session}/Thumbs.db", "Sessions/{session}/readme.doc"],
}


@pytest.mark.parametrize("name", ["ckplus", "oulu", "mmi"])
def test_stray_files_ignored_and_listed(name: str, fresh: Callable[[str], Release]) -> None:
    root, clips = fresh(name)
    clip = labelled(clips)[0]
    fields = {"subject": clip.subject, "clip": clip.clip, "session": clip.extra.get("session")}
    added = [root / s.format(**fields) for s in STRAYS[name]]
    for path in added:
        path.write_bytes(b"\x00 not a frame")
    result = parse(name, root)
    for truth in labelled(selected(name, clips)):
        assert actual_record(record_of(result, truth)) == expected_record(truth)
    inside = {str(p) for p in added if p.parent != root}
    assert inside <= set(result.stray_files)
    assert not any(path in result.stray_files for r in result.records for path in r.source.paths)


def test_macos_leftovers_are_passed_over(fresh: Callable[[str], Release]) -> None:
    """An archive unpacked on a Mac holds a `__MACOSX` twin of every folder, sorted first."""
    root, clips = fresh("ckplus-nested")
    twin = root / "__MACOSX" / "extended-cohn-kanade-images" / "cohn-kanade-images" / "S001" / "001"
    twin.mkdir(parents=True)
    (twin / "._S001_001_00000001.png").write_bytes(b"\x00\x05\x16\x07")
    result = parse("ckplus-nested", root)
    assert {r.key for r in result.records} == {
        clip_key(c.database, c.subject, c.clip) for c in labelled(clips)
    }


# --- bad input: fatal errors name the file and say what is wrong ----------------------------


def emotion_file(root: Path, clip: DemoClip) -> Path:
    return next(root.glob(f"Emotion/{clip.subject}/{clip.clip}/*_emotion.txt"))


@pytest.mark.parametrize(
    ("content", "says"),
    [
        ("   three\n", "emotion code 'three' is not a number"),
        ("   9.0000000e+00\n", "unknown emotion code '9.0000000e+00'"),
        ("   2.5000000e+00\n", "unknown emotion code '2.5000000e+00'"),
        ("", "holds 0 values; expected one code"),
        ("   3.0000000e+00   1.0000000e+00\n", "holds 2 values; expected one code"),
    ],
)
def test_ckplus_bad_emotion_file(content: str, says: str, fresh: Callable[[str], Release]) -> None:
    root, clips = fresh("ckplus")
    path = emotion_file(root, labelled(clips)[1])
    path.write_text(content)
    with pytest.raises(MepipeError) as info:
        parse("ckplus", root)
    assert info.value.path == str(path)
    assert says in str(info.value) and str(path) in str(info.value)


def test_ckplus_two_emotion_files(fresh: Callable[[str], Release]) -> None:
    root, clips = fresh("ckplus")
    path = emotion_file(root, labelled(clips)[0])
    shutil.copy(path, path.with_name("copy_emotion.txt"))
    with pytest.raises(MepipeError, match="several emotion files") as info:
        parse("ckplus", root)
    assert info.value.path == str(path.parent)


def test_ckplus_bad_facs_file(fresh: Callable[[str], Release]) -> None:
    root, clips = fresh("ckplus")
    clip = labelled(clips)[0]
    path = next(root.glob(f"FACS/{clip.subject}/{clip.clip}/*_facs.txt"))
    path.write_text("   1.2000000e+01   0.0000000e+00\n   AU4   2\n")
    with pytest.raises(MepipeError, match="expected 'AU intensity' numbers") as info:
        parse("ckplus", root)
    assert (info.value.path, info.value.row) == (str(path), 2)


def test_oulu_unknown_emotion_folder(fresh: Callable[[str], Release]) -> None:
    root, clips = fresh("oulu")
    folder = next(root.glob(f"OriginalImg/VL/Strong/{clips[0].subject}/Happiness"))
    folder.rename(folder.with_name("Contempt"))
    with pytest.raises(MepipeError, match="unknown emotion folder: .*'Contempt'") as info:
        parse("oulu", root)
    assert info.value.path == str(folder.with_name("Contempt"))


@pytest.mark.parametrize(
    ("options", "says"),
    [
        ({"lighting": "Weak"}, "no Weak lighting folder (found: Strong)"),
        ({"modality": "NI"}, "no NI modality folder (found: OriginalImg/VL)"),
        ({"modality": "IR"}, "unknown Oulu-CASIA selection IR/Strong"),
    ],
)
def test_oulu_selection_not_on_disk(
    options: dict[str, str], says: str, written: Callable[[str], Release]
) -> None:
    root, _ = written("oulu")
    with pytest.raises(MepipeError) as info:
        parse("oulu", root, **options)
    assert says in str(info.value) and str(root) in str(info.value)


@pytest.mark.parametrize("where", ["metadata", "markers"])
def test_mmi_malformed_xml(where: str, fresh: Callable[[str], Release]) -> None:
    root, clips = fresh("mmi")
    clip = next(c for c in labelled(clips) if "markers" in c.extra)
    name = clip.extra["markers"] if where == "markers" else f"{clip.clip}.xml"
    path = root / "Sessions" / clip.extra["session"] / name
    path.write_text(path.read_text()[:-30])
    with pytest.raises(MepipeError, match="malformed XML") as info:
        parse("mmi", root)
    assert info.value.path == str(path)


def _billion_laughs() -> str:
    entities = '<!ENTITY lol0 "lol">' + "".join(
        f'<!ENTITY lol{i} "{f"&lol{i - 1};" * 10}">' for i in range(1, 10)
    )
    return f'<?xml version="1.0"?><!DOCTYPE m [{entities}]><m><Metatag Name="Emotion" Value="&lol9;"/></m>'


EXTERNAL_ENTITY = (
    '<?xml version="1.0"?><!DOCTYPE m [<!ENTITY x SYSTEM "file:///etc/passwd">]>'
    '<m><Metatag Name="Emotion" Value="4"/><Note>&x;</Note></m>'
)


@pytest.mark.parametrize(
    "payload", [_billion_laughs(), EXTERNAL_ENTITY], ids=["billion-laughs", "external-entity"]
)
def test_mmi_hostile_xml_is_refused(payload: str, fresh: Callable[[str], Release]) -> None:
    """Entities are not expanded without bound, nor is an outside file read: both refused."""
    root, clips = fresh("mmi")
    clip = labelled(clips)[0]
    path = root / "Sessions" / clip.extra["session"] / f"{clip.clip}.xml"
    path.write_text(payload)
    with pytest.raises(MepipeError, match="malformed XML") as info:
        parse("mmi", root)
    assert info.value.path == str(path) and "root:" not in str(info.value)


@pytest.mark.parametrize(
    ("old", "new", "says"),
    [
        ('Type="2"', 'Type="apex"', "Marker attribute Type='apex' is not an integer"),
        ('Frame="1"', 'Frame=""', "Marker attribute Frame='' is not an integer"),
    ],
)
def test_mmi_bad_marker(old: str, new: str, says: str, fresh: Callable[[str], Release]) -> None:
    root, clips = fresh("mmi")
    clip = next(c for c in labelled(clips) if "markers" in c.extra)
    path = root / "Sessions" / clip.extra["session"] / clip.extra["markers"]
    path.write_text(path.read_text().replace(old, new, 1))
    with pytest.raises(MepipeError) as info:
        parse("mmi", root)
    assert info.value.path == str(path) and says in info.value.message


def test_mmi_emotion_not_a_number(fresh: Callable[[str], Release]) -> None:
    root, clips = fresh("mmi")
    clip = labelled(clips)[0]
    path = root / "Sessions" / clip.extra["session"] / f"{clip.clip}.xml"
    text = path.read_text()
    start = text.index('Name="Emotion" Value="') + len('Name="Emotion" Value="')
    path.write_text(text[:start] + "happy" + text[start + 1 :])
    with pytest.raises(MepipeError, match="Emotion Metatag value 'happy' is not a number") as info:
        parse("mmi", root)
    assert info.value.path == str(path)


def test_mmi_without_emotion_tag_or_metadata_is_unlabelled(fresh: Callable[[str], Release]) -> None:
    root, clips = fresh("mmi")
    first, second = labelled(clips)[:2]
    path = root / "Sessions" / first.extra["session"] / f"{first.clip}.xml"
    path.write_text(path.read_text().replace('Name="Emotion"', 'Name="Mood"'))
    (root / "Sessions" / second.extra["session"] / f"{second.clip}.xml").unlink()
    result = parse("mmi", root)
    assert f"{first.clip}: no Emotion tag" in result.unlabelled
    assert f"{second.clip}: no {second.clip}.xml" in result.unlabelled
    assert {first.clip, second.clip}.isdisjoint(r.clip for r in result.records)
    assert len(result.records) == len(labelled(clips)) - 2


# --- bad input: per-clip problems reject that clip with its reason ---------------------------


def rejected(result: ParseResult) -> dict[str, str]:
    return {r.key: r.reject_reason for r in result.records if r.reject_reason}


def truncate(path: Path) -> None:
    data = path.read_bytes()
    path.write_bytes(data[: len(data) // 3])


@pytest.mark.parametrize("which", ["first", "last"])
@pytest.mark.parametrize("name", ["ckplus", "oulu"])
def test_unreadable_end_frame_rejects_clip(
    name: str, which: str, fresh: Callable[[str], Release]
) -> None:
    root, clips = fresh(name)
    clip = labelled(selected(name, clips))[1]
    paths = record_of(parse(name, root), clip).source.paths
    broken = Path(paths[0] if which == "first" else paths[-1])
    truncate(broken)
    result = parse(name, root)
    key = clip_key(clip.database, clip.subject, clip.clip)
    assert list(rejected(result)) == [key]
    reason = rejected(result)[key]
    assert reason.startswith(f"cannot read {which} frame: {broken}:") and "truncated" in reason
    assert len(result.records) == len(labelled(selected(name, clips)))


@pytest.mark.parametrize("name", ["ckplus", "oulu"])
def test_sequence_without_frames_rejects_clip(name: str, fresh: Callable[[str], Release]) -> None:
    root, clips = fresh(name)
    clip = labelled(selected(name, clips))[0]
    first = Path(record_of(parse(name, root), clip).source.paths[0])
    for path in list(first.parent.iterdir()):
        path.unlink()
    (first.parent / "Thumbs.db").write_bytes(b"")
    record = record_of(parse(name, root), clip)
    assert record.reject_reason == "no frames in the sequence folder"
    assert record.source.numbers == () and record.label == clip.label


def test_mmi_unopenable_video_rejects_clip(fresh: Callable[[str], Release]) -> None:
    root, clips = fresh("mmi")
    clip = labelled(clips)[0]
    video = root / "Sessions" / clip.extra["session"] / f"{clip.clip}.avi"
    video.write_bytes(b"RIFF not really a video" * 10)
    record = record_of(parse("mmi", root), clip)
    assert record.reject_reason == f"cannot open video {video}"
    assert record.label == clip.label and record.source.video == str(video)


@pytest.mark.parametrize(
    ("mutation", "says"),
    [
        ("apex past the end", "apex frame 999 is outside onset..offset"),
        ("apex on the onset", "is the onset frame"),
        ("offset past the end, no apex", "offset frame 999 is past the frames on disk"),
    ],
)
def test_mmi_marker_holes_are_flagged_not_rejected(
    mutation: str, says: str, fresh: Callable[[str], Release]
) -> None:
    """Markers with holes are checked like CASME II and SAMM sheets (mepipe.apex)."""
    root, clips = fresh("mmi")
    clip = next(c for c in labelled(clips) if "markers" in c.extra)
    path = root / "Sessions" / clip.extra["session"] / clip.extra["markers"]
    text = path.read_text()
    frames = len(clip.frame_numbers)
    if mutation == "apex past the end":
        text = text.replace(f'Frame="{clip.apex}" Type="2"', 'Frame="999" Type="2"')
    elif mutation == "apex on the onset":
        text = text.replace(f'Frame="{clip.apex}" Type="2"', f'Frame="{clip.onset}" Type="2"')
    else:
        text = re.sub(r'Frame="\d+" Type="3"', 'Frame="999" Type="3"', text)
        text = re.sub(r'\s*<Marker Frame="\d+" Type="2" />', "", text)
    path.write_text(text)
    record = record_of(parse("mmi", root), clip)
    assert record.reject_reason is None
    assert record.flag is not None and record.flag.startswith(clip.extra["markers"] + ": ")
    assert says in record.flag
    if mutation == "offset past the end, no apex":
        assert record.offset == frames and f"clamped to the last frame on disk ({frames})" in (
            record.flag
        )
        assert record.apex == clip.onset + (frames - clip.onset) // 2
        assert record.apex_source == ApexSource.MIDPOINT
    else:  # estimated at ingest (tests/test_apex.py)
        assert (record.apex, record.apex_source) == (None, ApexSource.ESTIMATED)


def test_mmi_onset_marker_past_the_video_rejects_clip(fresh: Callable[[str], Release]) -> None:
    root, clips = fresh("mmi")
    clip = next(c for c in labelled(clips) if "markers" in c.extra)
    path = root / "Sessions" / clip.extra["session"] / clip.extra["markers"]
    path.write_text(re.sub(r'Frame="\d+" Type="1"', 'Frame="999" Type="1"', path.read_text()))
    record = record_of(parse("mmi", root), clip)
    assert record.reject_reason == (
        f"onset marker 999 in {clip.extra['markers']} is not a frame of the video "
        f"(video has {len(clip.frame_numbers)} frames)"
    )


def test_mmi_without_apex_marker_takes_the_midpoint(fresh: Callable[[str], Release]) -> None:
    root, clips = fresh("mmi")
    clip = next(c for c in labelled(clips) if "markers" in c.extra)
    path = root / "Sessions" / clip.extra["session"] / clip.extra["markers"]
    path.write_text(re.sub(r'\s*<Marker Frame="\d+" Type="2" />', "", path.read_text()))
    record = record_of(parse("mmi", root), clip)
    assert (record.onset, record.offset) == (clip.onset, clip.offset)
    assert record.apex == clip.onset + (clip.offset - clip.onset) // 2
    assert record.apex_source == ApexSource.MIDPOINT and record.reject_reason is None


def test_demo_writer_is_reproducible(tmp_path: Path) -> None:
    one = write_ckplus(tmp_path / "a", subjects=1, sequences_per_subject=2, size=(48, 40), seed=7)
    two = write_ckplus(tmp_path / "b", subjects=1, sequences_per_subject=2, size=(48, 40), seed=7)
    assert [c.to_json() for c in one] == [c.to_json() for c in two]
    png = sorted((tmp_path / "a").rglob("*.png"))[-1]
    assert png.read_bytes() == (tmp_path / "b" / png.relative_to(tmp_path / "a")).read_bytes()
