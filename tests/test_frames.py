"""Frame listing (numeric order, stray files) and the choice of neutral + five apex frames."""

from pathlib import Path

import pytest

from mepipe.frames import list_frames, select_frames
from mepipe.records import ApexSource, ClipRecord, FrameSource


def make_record(numbers, onset, apex, offset, source=ApexSource.ANNOTATED) -> ClipRecord:
    paths = tuple(f"/x/img{n}.jpg" for n in numbers)
    return ClipRecord(
        "casme2",
        "sub01",
        "EP01_01",
        "happiness",
        FrameSource(tuple(numbers), paths),
        onset,
        apex,
        offset,
        source,
        200.0,
    )


def test_list_frames_sorts_numerically_and_lists_strays(tmp_path: Path):
    for name in [
        "img10.jpg",
        "img9.jpg",
        "img100.jpg",
        ".DS_Store",
        "Thumbs.db",
        "Desktop - Shortcut.lnk",
        "notes.txt",
    ]:
        (tmp_path / name).write_bytes(b"x")
    source, stray = list_frames(tmp_path)
    assert source.numbers == (9, 10, 100)
    assert [Path(p).name for p in source.paths] == ["img9.jpg", "img10.jpg", "img100.jpg"]
    assert sorted(Path(s).name for s in stray) == sorted(
        [".DS_Store", "Thumbs.db", "Desktop - Shortcut.lnk", "notes.txt"]
    )


def test_five_frames_centred_on_apex():
    selection = select_frames(make_record(range(46, 60), 46, 52, 59))
    assert selection.neutral == 46
    assert selection.expression == (50, 51, 52, 53, 54)
    assert selection.flag is None


@pytest.mark.parametrize(
    ("apex", "expected"),
    [
        (46, (46, 47, 48, 49, 50)),
        (47, (46, 47, 48, 49, 50)),
        (59, (55, 56, 57, 58, 59)),
        (58, (55, 56, 57, 58, 59)),
    ],
)
def test_window_is_shifted_not_truncated_at_the_clip_ends(apex, expected):
    # An apex on the onset: max-diff gives it for a clip whose frames never change.
    assert select_frames(make_record(range(46, 60), 46, apex, 59)).expression == expected


def test_window_stays_inside_frames_on_disk_and_flags_missing_offset():
    # sub16/EP01_08: annotated 73..110, frames on disk only 73..96. The adapters clamp
    # such an offset first (mepipe.apex.check_annotation); selection copes regardless.
    selection = select_frames(make_record(range(73, 97), 73, 95, 110))
    assert selection.expression == (92, 93, 94, 95, 96)
    assert "offset frame 110 not on disk" in selection.flag


def test_short_clip_is_flagged_not_silently_padded():
    selection = select_frames(make_record([10, 11, 12], 10, 11, 12))
    assert selection.expression == (11, 12, 12, 12, 12)
    assert "only 3 frames" in selection.flag


def test_macro_sequence_takes_last_five_frames():
    selection = select_frames(make_record(range(1, 12), 1, 11, 11, ApexSource.LAST_FRAME))
    assert (selection.neutral, selection.expression) == (1, (7, 8, 9, 10, 11))
    assert selection.flag is None


def test_apex_not_on_disk_is_an_error():
    with pytest.raises(ValueError, match="apex 20"):
        select_frames(make_record([10, 11, 12, 13, 14, 15], 10, 20, 30))


def test_frames_missing_among_the_chosen_ones_are_named_in_the_flag():
    # img7 and img10 deleted from a clip annotated 5..15 with apex 11 (issue 8, item 8).
    numbers = [n for n in range(5, 16) if n not in (7, 10)]
    selection = select_frames(make_record(numbers, 5, 11, 15))
    assert (selection.neutral, selection.expression) == (5, (8, 9, 11, 12, 13))
    assert selection.flag == (
        "2 frames missing on disk between neutral frame 5 and expression frame 13: 7, 10"
    )


def test_missing_frames_are_named_as_runs_and_only_up_to_the_last_chosen_frame():
    # 7-9 missing before the window, 20 missing after it (not among the chosen frames).
    numbers = [n for n in range(5, 25) if n not in (7, 8, 9, 20)]
    selection = select_frames(make_record(numbers, 5, 12, 24))
    assert selection.expression == (10, 11, 12, 13, 14)
    assert selection.flag == (
        "3 frames missing on disk between neutral frame 5 and expression frame 14: 7-9"
    )


def test_short_clip_with_a_gap_names_both():
    selection = select_frames(make_record([10, 11, 13], 10, 11, 13))
    assert "only 3 frames" in selection.flag
    assert "1 frame missing on disk between neutral frame 10 and expression frame 13: 12" in (
        selection.flag
    )


def test_consecutive_frames_carry_no_flag():
    assert select_frames(make_record(range(46, 60), 46, 50, 59)).flag is None
