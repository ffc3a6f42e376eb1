"""`mepipe show`: a contact sheet of aligned clips, the way people check alignment.

One row per clip: its subject, key, label and status, then the aligned neutral frame and
the five expression frames as the shards hold them. With `--landmarks` each row starts
with the raw neutral frame with the five detected points drawn, and the template points
are marked on the aligned neutral frame: a good alignment puts the eyes on the marks.

With motion (the default; `--no-motion` leaves it out) two columns follow: the difference
apex - neutral amplified x5 around mid-grey, and, when the shards hold optical flow, the
onset->apex flow as colours (mepipe.motion_view), with the colour key and its scale drawn
under the rows.
"""

from __future__ import annotations

import io
from pathlib import Path

import numpy as np
import pandas as pd
from PIL import Image, ImageDraw, ImageFont

from mepipe.align.transform import template
from mepipe.atomic import atomic_path
from mepipe.contract.manifest import MANIFEST_NAME, read_manifest
from mepipe.contract.sample import FLOW, IMAGES, MAGNITUDE, NEUTRAL, Sample, iter_samples
from mepipe.errors import MepipeError
from mepipe.images import read_frames
from mepipe.motion_view import (
    DIFFERENCE_GAIN,
    amplified_difference,
    colour_key,
    flow_colours,
    flow_scale,
)
from mepipe.shards.index import read_index
from mepipe.shards.plan import SHARDS_DIR, plain

TILE = 128
CAPTION_WIDTH = 230
GAP = 4
POINT_COLOURS = ("#00ff66", "#00ff66", "#ffcc00", "#ff3366", "#ff3366")
APEX = "e2"  # the apex member (the middle expression frame)
DIFFERENCE_COLUMN = f"apex-neutral x{DIFFERENCE_GAIN:g}"
FLOW_COLUMN = "flow onset->apex"
KEY_HEIGHT = TILE + 8  # the footer with the flow colour key


def _font(size: int) -> ImageFont.ImageFont | ImageFont.FreeTypeFont:
    return ImageFont.load_default(size=size)


def _mark(draw: ImageDraw.ImageDraw, points: np.ndarray, radius: float) -> None:
    for (x, y), colour in zip(points, POINT_COLOURS, strict=True):
        draw.ellipse((x - radius, y - radius, x + radius, y + radius), outline=colour, width=2)


def _raw_tile(row: pd.Series) -> Image.Image:
    """The raw neutral (detection) frame, scaled to the tile height, points drawn."""
    frame_number = plain(row["detect_frame"]) or plain(row["neutral_frame"])
    (frame,) = read_frames(
        [frame_number],
        plain(row["frame_numbers"]),
        plain(row["frame_paths"]) or [],
        plain(row.get("video")),
    )
    image = Image.fromarray(frame)
    scale = TILE / image.height
    image = image.resize((max(1, round(image.width * scale)), TILE), Image.Resampling.BILINEAR)
    if plain(row["landmarks"]):
        points = np.asarray(plain(row["landmarks"]), float).reshape(5, 2) * scale
        _mark(ImageDraw.Draw(image), points, 3)
    return image


def _motion_tiles(
    samples: list[Sample], size: int, with_flow: bool
) -> tuple[list[list[np.ndarray]], float | None]:
    """Per clip the motion tiles (difference, then flow colours if `with_flow`), and the
    flow scale shared by the sheet (None without flow)."""
    tiles = [[amplified_difference(s.image(NEUTRAL), s.image(APEX))] for s in samples]
    if not with_flow:
        return tiles, None
    flows = [s.array(FLOW, (2, size, size)) for s in samples]
    scale = flow_scale([s.array(MAGNITUDE, (size, size)) for s in samples])
    for row, flow in zip(tiles, flows, strict=True):
        row.append(flow_colours(flow, scale))
    return tiles, scale


def _draw_key(sheet: Image.Image, x: int, y: int, scale: float, size: int) -> None:
    """The flow colour wheel and what it means, at (x, y)."""
    sheet.paste(Image.fromarray(colour_key(TILE, scale)), (x, y))
    text = (
        f"flow colour key: hue = direction, saturation = magnitude;\n"
        f"rim = {scale:g} px at the {size}x{size} crop (or more), white = still.\n"
        f"{DIFFERENCE_COLUMN}: gray(apex) - gray(neutral) x{DIFFERENCE_GAIN:g} around mid-grey."
    )
    draw = ImageDraw.Draw(sheet)
    draw.multiline_text((x + TILE + 8, y + 8), text, fill="black", font=_font(11), spacing=3)


def contact_sheet(
    db_dir: Path,
    limit: int = 24,
    keys: tuple[str, ...] = (),
    landmarks: bool = False,
    motion: bool = True,
) -> Image.Image:
    """The sheet of the first `limit` usable clips (or of `keys`) of one database; with
    `motion`, the difference column and, if the shards hold flow, the flow column."""
    manifest = read_manifest(db_dir / MANIFEST_NAME)
    if "shard" not in manifest.columns:
        raise MepipeError("manifest has no shard column: ingest without --no-align", db_dir)
    rows = manifest[manifest["shard"].notna()].sort_values("key")
    if keys:
        unknown = sorted(set(keys) - set(rows["key"]))
        if unknown:
            raise MepipeError(f"no aligned clip with key {', '.join(unknown)}", db_dir)
        rows = rows[rows["key"].isin(keys)]
    rows = rows.head(limit)
    if rows.empty:
        raise MepipeError("no aligned clips to show", db_dir)
    options = read_index(db_dir / SHARDS_DIR).options
    size = options["size"]
    with_flow = motion and (options.get("optical_flow") or {}).get("flow", "none") != "none"

    samples: dict[str, Sample] = {}
    for shard, group in rows.groupby("shard"):
        for sample in iter_samples(db_dir / str(shard), set(group["key"])):
            samples[sample.key] = sample

    missing = sorted(set(rows["key"]) - set(samples))
    if missing:
        shard = rows.set_index("key").loc[missing[0], "shard"]
        raise MepipeError(f"sample {missing[0]} is missing from {shard}", db_dir)
    ordered = [samples[str(key)] for key in rows["key"]]
    motion_tiles, scale = _motion_tiles(ordered, size, with_flow) if motion else ([], None)
    columns = [*IMAGES]
    if motion:
        columns += [DIFFERENCE_COLUMN] + ([FLOW_COLUMN] if with_flow else [])

    raws = [_raw_tile(row) for _, row in rows.iterrows()] if landmarks else []
    raw_width = max((r.width for r in raws), default=0) + (GAP if raws else 0)
    width = CAPTION_WIDTH + raw_width + len(columns) * (TILE + GAP)
    header = 22
    footer = KEY_HEIGHT if scale is not None else 0
    sheet = Image.new("RGB", (width, header + len(rows) * (TILE + GAP) + footer), "white")
    draw = ImageDraw.Draw(sheet)
    small = _font(11)
    x0 = CAPTION_WIDTH + raw_width
    if raws:
        draw.text((CAPTION_WIDTH, 4), "raw + detected points", fill="black", font=small)
    for j, name in enumerate(columns):
        draw.text((x0 + j * (TILE + GAP), 4), name, fill="black", font=small)
    marks = template(size) * TILE / size
    for i, (_, row) in enumerate(rows.iterrows()):
        y = header + i * (TILE + GAP)
        key = str(row["key"])
        sample = samples[key]
        labels = [
            f"{column.removeprefix('label_')}: {plain(row[column])}"
            for column in rows.columns
            if column.startswith("label_") and plain(row[column]) is not None
        ]
        caption = [
            f"{plain(row['subject'])}  {plain(row.get('label'))}",
            key,
            *labels[:3],
            f"status: {plain(row['status'])}",
        ]
        draw.multiline_text((6, y + 4), "\n".join(caption), fill="black", font=small, spacing=3)
        if raws:
            sheet.paste(raws[i], (CAPTION_WIDTH, y))
        for j, name in enumerate(IMAGES):
            tile = Image.fromarray(sample.image(name)).resize(
                (TILE, TILE), Image.Resampling.BILINEAR
            )
            if landmarks and name == NEUTRAL:
                _mark(ImageDraw.Draw(tile), marks, 2)
            sheet.paste(tile, (x0 + j * (TILE + GAP), y))
        for j, picture in enumerate(motion_tiles[i] if motion else [], start=len(IMAGES)):
            tile = Image.fromarray(picture).resize((TILE, TILE), Image.Resampling.BILINEAR)
            sheet.paste(tile, (x0 + j * (TILE + GAP), y))
    if scale is not None:
        _draw_key(sheet, x0, header + len(rows) * (TILE + GAP) + 4, scale, size)
    return sheet


def write_contact_sheet(
    db_dir: Path,
    out: Path,
    limit: int = 24,
    keys: tuple[str, ...] = (),
    landmarks: bool = False,
    motion: bool = True,
) -> Image.Image:
    """Write `contact_sheet(...)` to `out` as PNG (atomically) and return it."""
    sheet = contact_sheet(db_dir, limit, keys, landmarks, motion)
    buffer = io.BytesIO()
    sheet.save(buffer, format="PNG")
    with atomic_path(out) as tmp:
        tmp.write_bytes(buffer.getvalue())
    return sheet
