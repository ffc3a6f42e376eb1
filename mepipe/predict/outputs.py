"""What `mepipe predict` writes into OUT, all or nothing.

    intervals.csv   one row per interval: frames and seconds, kind, class, probabilities, score
    summary.json    the footage, the options, the threshold, the alignment windows, the gaps
    timeline.png    the motion signal over time, the threshold, intervals shaded and labelled
    sheets/interval-NN.png   each interval's six aligned frames, as the model saw them
    annotated.mp4   with --video-out: the footage with the current interval's label drawn

Everything is written into a hidden folder beside OUT, which then takes OUT's place in one
rename: an interrupted run leaves OUT as it was. An OUT that already holds files is only
replaced when it is the output of an earlier `predict` (it has intervals.csv).
"""

from __future__ import annotations

import io
import os
import secrets
import shutil
from collections.abc import Callable
from pathlib import Path

import cv2
import numpy as np
import pandas as pd
from PIL import Image, ImageDraw, ImageFont

from mepipe import __version__
from mepipe.atomic import write_bytes, write_json
from mepipe.contract.sample import IMAGES
from mepipe.errors import MepipeError
from mepipe.predict.pipeline import Found, PredictResult
from mepipe.sheet import GAP, TILE

INTERVALS_CSV = "intervals.csv"
SUMMARY = "summary.json"
TIMELINE = "timeline.png"
SHEETS = "sheets"
ANNOTATED = "annotated.mp4"
COLOURS = {"micro": "#d62728", "macro": "#1f77b4"}
COLUMNS = (
    "interval", "source", "onset_frame", "apex_frame", "offset_frame", "onset_s", "apex_s",
    "offset_s", "duration_s", "kind", "score", "class", "neutral_frame", "expression_frames",
)  # fmt: skip


def interval_rows(result: PredictResult) -> pd.DataFrame:
    """The table of intervals.csv."""
    fps = result.footage.fps
    rows = []
    for number, found in enumerate(result.found, start=1):
        i = found.interval
        row = {
            "interval": number,
            "source": found.source,
            "onset_frame": i.onset,
            "apex_frame": i.apex,
            "offset_frame": i.offset,
            "onset_s": round(i.onset / fps, 4),
            "apex_s": round(i.apex / fps, 4),
            "offset_s": round((i.offset + 1) / fps, 4),
            "duration_s": round(i.frames / fps, 4),
            "kind": i.kind,
            "score": round(i.score, 4),
            "class": result.label(found),
            "neutral_frame": found.sample.neutral,
            "expression_frames": " ".join(str(n) for n in found.sample.expression),
        }
        if found.probabilities is not None:
            row.update(
                {
                    f"prob_{c}": round(float(p), 4)
                    for c, p in zip(result.classes, found.probabilities, strict=True)
                }
            )
        rows.append(row)
    columns = [*COLUMNS, *(f"prob_{c}" for c in result.classes)]
    return pd.DataFrame(rows, columns=columns)  # the header even when nothing was found


def summary(result: PredictResult) -> dict:
    footage = result.footage
    return {
        "mepipe_version": __version__,
        "video": footage.path,
        "frames": footage.count,
        "fps": footage.fps,
        "size": [footage.width, footage.height],
        "options": vars(result.options),
        "reference_frames": result.signal.k,
        "threshold": result.threshold,
        "windows": [[w.start, w.end] for w in result.tracking.windows],
        "gaps": [list(g) for g in result.tracking.gaps()],
        "intervals": len(result.found),
        "model": result.card.to_json() if result.card else None,
    }


def timeline_png(result: PredictResult) -> bytes:
    """The motion signal (D faint, C strong), the threshold, gaps and intervals."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    fps = result.footage.fps
    seconds = np.arange(result.footage.count) / fps
    figure, axis = plt.subplots(figsize=(12, 3.6), dpi=100)
    axis.plot(seconds, result.signal.difference, color="0.7", lw=1, label="difference D")
    axis.plot(seconds, result.signal.contrast, color="black", lw=1.2, label="contrast C")
    axis.axhline(result.threshold, color="#ff7f0e", ls="--", lw=1, label="threshold")
    for first, last in result.tracking.gaps():
        axis.axvspan(first / fps, (last + 1) / fps, color="0.85", hatch="//", lw=0)
    top = (
        np.nanmax([np.nanmax(result.signal.difference), result.threshold])
        if result.tracking.windows
        else 1
    )
    for number, found in enumerate(result.found, start=1):
        i = found.interval
        axis.axvspan(i.onset / fps, (i.offset + 1) / fps, color=COLOURS[i.kind], alpha=0.25, lw=0)
        text = f"{number} {i.kind}" + (f"\n{result.label(found)}" if result.label(found) else "")
        axis.text(i.apex / fps, top * 1.02, text, ha="center", va="bottom", fontsize=8)
    axis.set_ylim(0, top * 1.25)
    axis.set_xlim(0, max(seconds[-1], 1 / fps))
    axis.set_xlabel("seconds")
    axis.set_ylabel("motion (interocular distances)")
    axis.set_title(f"{Path(result.footage.path).name}: {len(result.found)} interval(s)")
    axis.legend(loc="upper right", fontsize=8)
    figure.tight_layout()
    buffer = io.BytesIO()
    figure.savefig(buffer, format="png")
    plt.close(figure)
    return buffer.getvalue()


def sheet_png(result: PredictResult, number: int, found: Found) -> bytes:
    """One interval's six aligned frames with their frame numbers and the class."""
    i = found.interval
    header = 40
    sheet = Image.new("RGB", (6 * (TILE + GAP), header + TILE + 18), "white")
    draw = ImageDraw.Draw(sheet)
    probs = ""
    if found.probabilities is not None:
        best = np.argsort(found.probabilities)[::-1][:3]
        probs = "  " + ", ".join(f"{result.classes[b]} {found.probabilities[b]:.2f}" for b in best)
    title = f"interval {number}: {i.kind}, frames {i.onset}-{i.offset}, apex {i.apex}{probs}"
    draw.text((4, 4), title, fill="black", font=ImageFont.load_default(size=12))
    if found.sample.note:
        draw.text(
            (4, 20), found.sample.note[:120], fill="#aa0000", font=ImageFont.load_default(size=10)
        )
    for j, (image, frame, name) in enumerate(
        zip(found.sample.images, found.sample.frames, IMAGES, strict=True)
    ):
        tile = Image.fromarray(image).resize((TILE, TILE), Image.Resampling.BILINEAR)
        sheet.paste(tile, (j * (TILE + GAP), header))
        draw.text(
            (j * (TILE + GAP) + 2, header + TILE + 2),
            f"{name}: {frame}",
            fill="black",
            font=ImageFont.load_default(size=11),
        )
    buffer = io.BytesIO()
    sheet.save(buffer, format="PNG")
    return buffer.getvalue()


def write_annotated(result: PredictResult, path: Path, tick: Callable[[int], None]) -> None:
    """The footage with the interval (kind, class) drawn on the frames it covers (mp4v)."""
    footage = result.footage
    writer = cv2.VideoWriter(
        str(path), cv2.VideoWriter_fourcc(*"mp4v"), footage.fps, (footage.width, footage.height)
    )
    if not writer.isOpened():
        raise MepipeError("OpenCV cannot write an mp4v video here", path)
    try:
        spans = [(f.interval, n, result.label(f)) for n, f in enumerate(result.found, start=1)]
        for index, frame in footage.frames():
            bgr = cv2.cvtColor(frame, cv2.COLOR_RGB2BGR)
            if result.tracking.window_of[index] < 0:
                cv2.putText(bgr, "no face", (8, 20), cv2.FONT_HERSHEY_SIMPLEX, 0.6, (0, 0, 255), 2)
            for interval, number, label in spans:
                if interval.onset <= index <= interval.offset:
                    text = f"{number} {interval.kind} {label}".strip()
                    colour = (40, 40, 214) if interval.kind == "micro" else (180, 119, 31)
                    cv2.rectangle(bgr, (0, 0), (footage.width - 1, footage.height - 1), colour, 4)
                    cv2.putText(
                        bgr,
                        text,
                        (8, footage.height - 12),
                        cv2.FONT_HERSHEY_SIMPLEX,
                        0.7,
                        colour,
                        2,
                    )
            writer.write(bgr)
            tick(index + 1)
    finally:
        writer.release()


def _replace(tmp: Path, out: Path) -> None:
    """Move the finished folder `tmp` to `out` (an earlier predict output there is replaced)."""
    if out.exists():
        old = out.with_name(f".{out.name}.old-{secrets.token_hex(4)}")
        os.replace(out, old)
        os.replace(tmp, out)
        shutil.rmtree(old, ignore_errors=True)
    else:
        os.replace(tmp, out)


def check_out(out: Path) -> None:
    """Refuse an OUT that is a file, or a folder with other files than a predict output."""
    if out.exists() and (
        not out.is_dir() or (any(out.iterdir()) and not (out / INTERVALS_CSV).exists())
    ):
        raise MepipeError(
            "already exists and is not the output of `mepipe predict`; choose another --out", out
        )


def write_outputs(
    result: PredictResult,
    out: str | Path,
    video_out: bool = False,
    progress: Callable[[str, int, int], None] | None = None,
) -> Path:
    """Write OUT (see the module docstring) all at once; returns OUT."""
    out = Path(out)
    check_out(out)
    out.parent.mkdir(parents=True, exist_ok=True)
    tmp = out.with_name(f".{out.name}.tmp-{secrets.token_hex(4)}")
    try:
        tmp.mkdir()
        table = interval_rows(result)
        write_bytes(tmp / INTERVALS_CSV, table.to_csv(index=False).encode())
        write_json(tmp / SUMMARY, summary(result))
        write_bytes(tmp / TIMELINE, timeline_png(result))
        for number, found in enumerate(result.found, start=1):
            write_bytes(
                tmp / SHEETS / f"interval-{number:02d}.png", sheet_png(result, number, found)
            )
        if video_out:
            total = result.footage.count
            write_annotated(
                result, tmp / ANNOTATED, lambda n: progress and progress("video", n, total)
            )
        _replace(tmp, out)
    except OSError as exc:
        raise MepipeError(f"cannot write ({exc.strerror or exc})", out) from None
    finally:
        if tmp.exists():
            shutil.rmtree(tmp, ignore_errors=True)
    return out
