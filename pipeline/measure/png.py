"""A minimal RGB PNG writer, so tests and benches can make image inputs.

No imaging library is a dependency (MXNet only decodes images), and JPEG needs an encoder;
an uncompressed-filter PNG is a few lines of zlib and struct. `pipeline/measure/inputs.py` reads what
this writes with MXNet's own decoder, as verify's `input: image` does.
"""
from __future__ import annotations

import struct
import zlib
from pathlib import Path

import numpy as np

SIGNATURE = b"\x89PNG\r\n\x1a\n"


def _chunk(kind: bytes, data: bytes) -> bytes:
    return struct.pack(">I", len(data)) + kind + data + struct.pack(">I", zlib.crc32(kind + data) & 0xFFFFFFFF)


def write_png(path: Path, pixels: np.ndarray) -> Path:
    """Write `pixels` (height, width, 3), taken as uint8 RGB, to `path`; returns `path`."""
    height, width, _ = pixels.shape
    raw = b"".join(b"\x00" + pixels[row].astype(np.uint8).tobytes() for row in range(height))
    header = struct.pack(">IIBBBBB", width, height, 8, 2, 0, 0, 0)  # 8-bit depth, colour type 2 (RGB)
    path.write_bytes(SIGNATURE + _chunk(b"IHDR", header) + _chunk(b"IDAT", zlib.compress(raw)) + _chunk(b"IEND", b""))
    return path
