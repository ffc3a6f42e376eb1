"""Huge but tiny PNG files (decompression bombs) for the frame-size tests, made without the
image in memory: a 20000x20000 frame is about 400 KB on disk and takes half a second."""

from __future__ import annotations

import struct
import zlib
from pathlib import Path


def _chunk(kind: bytes, data: bytes) -> bytes:
    crc = zlib.crc32(kind + data)
    return struct.pack(">I", len(data)) + kind + data + struct.pack(">I", crc)


def zero_png(path: Path, width: int, height: int) -> Path:
    """Write a valid 8-bit grey PNG of `width` x `height` zeros at `path`.

    The deflate stream of one block of rows, flushed to a byte boundary, is repeated; the
    closing Adler-32 of n zero bytes is (n mod 65521) << 16 | 1.
    """
    row = bytes(1 + width)  # filter byte, then one zero per pixel
    rows = max(1, min(height, (1 << 20) // len(row)))
    blocks, rest = divmod(height, rows)
    packer = zlib.compressobj(9)
    first = packer.compress(row * rows) + packer.flush(zlib.Z_FULL_FLUSH)  # has the header
    again = packer.compress(row * rows) + packer.flush(zlib.Z_FULL_FLUSH)
    tail = packer.compress(row * rest) + packer.flush()
    checksum = ((len(row) * height) % 65521) << 16 | 1
    stream = first + again * (blocks - 1) + tail[:-4] + struct.pack(">I", checksum)
    header = struct.pack(">IIBBBBB", width, height, 8, 0, 0, 0, 0)
    path.write_bytes(
        b"\x89PNG\r\n\x1a\n"
        + _chunk(b"IHDR", header)
        + _chunk(b"IDAT", stream)
        + _chunk(b"IEND", b"")
    )
    return path
