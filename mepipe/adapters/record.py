"""Building ClipRecords: the one builder every adapter uses, and its neutral -> peak case.

Every adapter ends a clip the same way: a ClipRecord whose frame rate is the release's
(manifests/databases.toml), whose onset and offset default to the first and last frame on
disk, and whose `extra` is its own copy. `clip_record` is that one place; an adapter passes
only what its release annotates or what it found wrong.
"""

from __future__ import annotations

from mepipe.errors import MepipeError
from mepipe.images import read_image
from mepipe.protocols import database_info
from mepipe.records import ApexSource, ClipRecord, FrameSource


def release_fps(database: str, subset: str | None = None) -> float:
    """The frame rate databases.toml gives the release (or its `subset`, SMIC's HS/VIS/NIR)."""
    fps = database_info(database)["fps"]
    return float(fps[subset] if isinstance(fps, dict) else fps)


def clip_record(
    database: str,
    subject: str,
    clip: str,
    label: str | None,
    source: FrameSource,
    apex_source: ApexSource,
    *,
    onset: int | None = None,
    apex: int | None = None,
    offset: int | None = None,
    fps: float | None = None,
    size: tuple[int, int] = (0, 0),
    action_units: str | None = None,
    extra: dict[str, str] | None = None,
    reject_reason: str | None = None,
    flag: str | None = None,
) -> ClipRecord:
    """The ClipRecord of one clip.

    `onset` and `offset` default to the first and last frame of `source` (0 without frames),
    `fps` to the release's, `size` is (width, height) and (0, 0) where unknown (a rejected
    clip). `apex` None means "to be chosen" (apex_source MIDPOINT/MAX_DIFF, chosen by
    `mepipe.apex.apply_apex_method`) or "to be estimated" (ESTIMATED).
    """
    numbers = source.numbers
    return ClipRecord(
        database=database,
        subject=subject,
        clip=clip,
        label=label,
        source=source,
        onset=(numbers[0] if numbers else 0) if onset is None else onset,
        apex=apex,
        offset=(numbers[-1] if numbers else 0) if offset is None else offset,
        apex_source=apex_source,
        fps=release_fps(database) if fps is None else float(fps),
        width=size[0],
        height=size[1],
        action_units=action_units,
        extra=dict(extra or {}),
        reject_reason=reject_reason,
        flag=flag,
    )


def check_end_frames(source: FrameSource) -> tuple[int, int, str | None]:
    """(width, height, None) from the first frame, or (0, 0, why the clip is unusable).

    Only the first and last frames are decoded: they are the neutral and peak frames of
    sequences that run neutral -> peak, and a truncated one must reject its clip here
    rather than fail alignment later. Sizes vary between sequences (CK+), so each is read.
    """
    if not source.numbers:
        return 0, 0, "no frames in the sequence folder"
    height = width = 0
    for which, path in (("first", source.paths[0]), ("last", source.paths[-1])):
        try:
            image = read_image(path)
        except MepipeError as exc:
            return 0, 0, f"cannot read {which} frame: {exc}"
        if which == "first":
            height, width = image.shape[:2]
    return width, height, None


def peak_sequence_record(
    database: str,
    subject: str,
    clip: str,
    label: str,
    source: FrameSource,
    *,
    action_units: str | None = None,
    extra: dict[str, str] | None = None,
) -> ClipRecord:
    """The ClipRecord of a sequence that runs neutral -> peak (CK+, Oulu-CASIA).

    Such releases annotate no onset or apex, so the first frame is the onset and the last
    is both the apex and the offset (ApexSource.LAST_FRAME). A sequence without frames or
    with an unreadable end frame is kept, rejected with check_end_frames' reason, so that
    the manifest and the report say why it is missing from the shards.
    """
    width, height, problem = check_end_frames(source)
    return clip_record(
        database,
        subject,
        clip,
        label,
        source,
        ApexSource.LAST_FRAME,
        apex=source.numbers[-1] if source.numbers else None,
        size=(width, height),
        action_units=action_units,
        extra=extra,
        reject_reason=problem,
    )
