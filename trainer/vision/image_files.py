"""Checks that a file is a JPEG or PNG image that training will decode.

Two readers, each for what it alone does:
- Pillow reads the header only (`Image.open` is lazy): the format, told by the
  content rather than the name, and the pixel count, so a decompression bomb is
  refused before anything allocates its pixels.
- TensorFlow then decodes the whole file with `decode_rgb`, the decoder training
  and serving use, so a file that passes cannot fail tf.data in the middle of a
  run. (Pillow's own decode does not check the CRC of PNG data chunks, and let
  such files through.)
"""

from __future__ import annotations

import re
from pathlib import Path

import tensorflow as tf
from PIL import Image, UnidentifiedImageError

from trainer.vision.dataset import decode_rgb

# MPO: multi-picture JPEGs (many phone cameras); TensorFlow decodes the first picture.
SUPPORTED_FORMATS = ("JPEG", "MPO", "PNG")
# Eager errors start with the name of the function the op ran in: noise in a reason.
_FUNCTION_NODE = re.compile(r"^\{\{function_node [^}]*\}\}\s*")


def image_problem(path: Path) -> str | None:
    """None when `path` is a JPEG/PNG that training decodes, else why it is not usable."""
    if path.name.startswith("."):
        return "hidden file"
    if path.stat().st_size == 0:
        return "zero-byte file"
    return _header_problem(path) or _decode_problem(path)


def _header_problem(path: Path) -> str | None:
    try:
        with Image.open(path) as image:
            if image.format not in SUPPORTED_FORMATS:
                return f"unsupported image format {image.format} (JPEG and PNG are read)"
    except UnidentifiedImageError:
        return "not an image"
    except Image.DecompressionBombError as exc:
        return f"image too large to decode safely ({exc})"
    except (OSError, SyntaxError, ValueError) as exc:
        return f"corrupt or truncated image ({exc})"
    return None


def _decode_problem(path: Path) -> str | None:
    try:
        decode_rgb(path.read_bytes())
    except tf.errors.OpError as exc:
        message = _FUNCTION_NODE.sub("", exc.message.strip()).splitlines()[0]
        return f"corrupt or truncated image: does not decode as training reads it ({message})"
    return None
