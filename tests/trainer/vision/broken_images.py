"""Image files that look usable but are not, built from a good PNG/JPEG for the ingest tests."""

from __future__ import annotations

import io
import struct
import zlib

import numpy as np
from PIL import Image

from tests.conftest import jpeg_bytes, png_bytes

PIXELS = np.random.default_rng(0).integers(0, 255, (16, 16, 3)).astype(np.uint8)
GOOD_PNG = png_bytes(PIXELS)
GOOD_JPEG = jpeg_bytes(PIXELS)
UNDECODABLE = "corrupt or truncated image: does not decode as training reads it"


def _chunk(data: bytes, chunk_type: bytes) -> tuple[int, int]:
    """(offset, data length) of the first PNG chunk of `chunk_type`."""
    offset = 8  # after the signature
    while True:
        (length,) = struct.unpack(">I", data[offset : offset + 4])
        if data[offset + 4 : offset + 8] == chunk_type:
            return offset, length
        offset += 12 + length


def png_with_bad_crc(chunk_type: bytes) -> bytes:
    """The good PNG with one bit of a chunk's CRC flipped."""
    offset, length = _chunk(GOOD_PNG, chunk_type)
    crc_at = offset + 8 + length
    broken = bytearray(GOOD_PNG)
    broken[crc_at] ^= 0x01
    return bytes(broken)


def png_with_corrupt_idat() -> bytes:
    """The good PNG with bytes inside its compressed data changed, and a CRC that matches them."""
    offset, length = _chunk(GOOD_PNG, b"IDAT")
    broken = bytearray(GOOD_PNG)
    for i in range(offset + 8 + length // 2, offset + 8 + length // 2 + 8):
        broken[i] ^= 0x55
    crc = zlib.crc32(bytes(broken[offset + 4 : offset + 8 + length]))
    broken[offset + 8 + length : offset + 12 + length] = struct.pack(">I", crc)
    return bytes(broken)


def jpeg_truncated_in_scan() -> bytes:
    """The good JPEG cut half way through its entropy-coded scan data."""
    scan = GOOD_JPEG.index(b"\xff\xda")
    return GOOD_JPEG[: scan + (len(GOOD_JPEG) - scan) // 2]


def encoded(image_format: str) -> bytes:
    buffer = io.BytesIO()
    Image.fromarray(PIXELS).save(buffer, format=image_format)
    return buffer.getvalue()


def pillow_decodes(data: bytes) -> bool:
    """Whether Pillow's complete decode (the ingest check before) accepts `data`."""
    try:
        with Image.open(io.BytesIO(data)) as image:
            image.load()
    except (OSError, SyntaxError, ValueError):
        return False
    return True


# name -> (content, the reason's start): files ingest must skip.
BROKEN = {
    "idat_bad_crc.png": (png_with_bad_crc(b"IDAT"), UNDECODABLE),
    "iend_bad_crc.png": (png_with_bad_crc(b"IEND"), UNDECODABLE),
    "corrupt_idat.png": (png_with_corrupt_idat(), UNDECODABLE),
    "half.png": (GOOD_PNG[: len(GOOD_PNG) // 2], UNDECODABLE),
    "scan_cut.jpg": (jpeg_truncated_in_scan(), UNDECODABLE),
    "no_end_marker.jpg": (GOOD_JPEG[:-2], UNDECODABLE),
    "gif_renamed.png": (encoded("GIF"), "unsupported image format GIF"),
    "bmp_renamed.png": (encoded("BMP"), "unsupported image format BMP"),
    "empty.png": (b"", "zero-byte file"),
}
