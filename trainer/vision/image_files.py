"""Checks that a file is a JPEG or PNG image that decodes completely.

Pillow decodes the whole image (so truncated files fail) without importing
TensorFlow, which keeps the ingest step light.
"""

from __future__ import annotations

from pathlib import Path

from PIL import Image, UnidentifiedImageError

# MPO: multi-picture JPEGs (many phone cameras); TensorFlow decodes the first picture.
SUPPORTED_FORMATS = ("JPEG", "MPO", "PNG")


def image_problem(path: Path) -> str | None:
    """None when `path` is a complete JPEG/PNG, else why it is not usable."""
    if path.name.startswith("."):
        return "hidden file"
    if path.stat().st_size == 0:
        return "zero-byte file"
    try:
        with Image.open(path) as image:
            if image.format not in SUPPORTED_FORMATS:
                return f"unsupported image format {image.format} (JPEG and PNG are read)"
            image.load()
    except UnidentifiedImageError:
        return "not an image"
    except Image.DecompressionBombError as exc:
        return f"image too large to decode safely ({exc})"
    except (OSError, SyntaxError, ValueError) as exc:
        return f"corrupt or truncated image ({exc})"
    return None
