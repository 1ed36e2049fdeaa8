"""What one request may ask of the server: instances, image sizes and answer size.

A request that fits `--max-body-bytes` can still ask for far more than its
size: 110 PNGs of 64 KB that each declare 23000x23000 pixels decode to 1.6 GB
apiece, and 2 million short texts in 8 MB make an answer of 300 MB. So before
any model call the server counts the instances and reads each image's
dimensions from its header (Pillow parses the header only; nothing is
decoded), and it refuses an answer larger than `--max-response-bytes`. The
REST and gRPC routes check the same limits.
"""

from __future__ import annotations

import io
import warnings
from dataclasses import dataclass

import numpy as np
from PIL import Image, UnidentifiedImageError

from serving.server.loaded_model import LoadedModel
from serving.server.request_format import RequestError
from serving.server.settings import (
    DEFAULT_MAX_INSTANCES,
    MAX_IMAGE_PIXELS,
    MAX_INSTANCES,
    MAX_RESPONSE_BYTES,
)


@dataclass(frozen=True)
class RequestLimits:
    max_instances: int = DEFAULT_MAX_INSTANCES
    max_image_pixels: int = 4096 * 4096
    max_response_bytes: int = 32 * 2**20

    def __post_init__(self) -> None:
        MAX_INSTANCES.check(self.max_instances)
        MAX_IMAGE_PIXELS.check(self.max_image_pixels)
        MAX_RESPONSE_BYTES.check(self.max_response_bytes)


def check_batch(limits: RequestLimits, model: LoadedModel, batch: np.ndarray) -> None:
    """RequestError (413 or 400) when `batch` asks more than `limits` allow of `model`."""
    if len(batch) > limits.max_instances:
        raise RequestError(
            413,
            f"The request has {len(batch)} instances; the limit is {limits.max_instances} "
            "(--max-instances): split it into smaller requests.",
        )
    if model.input.is_string and model.metadata.get("input", {}).get("image_size"):
        for index, data in enumerate(batch):
            problem = image_problem(data, limits.max_image_pixels)
            if problem:
                raise RequestError(400, f"instance {index}: {problem}")


def check_response_size(limits: RequestLimits, size: int, instances: int) -> None:
    if size > limits.max_response_bytes:
        raise RequestError(
            413,
            f"The answer to {instances} instances would be {size} bytes; the limit is "
            f"{limits.max_response_bytes} (--max-response-bytes): send fewer instances per "
            "request.",
        )


def image_problem(data: bytes, max_pixels: int) -> str | None:
    """Why the encoded image `data` is refused (unreadable header, too many pixels), or None."""
    try:
        with warnings.catch_warnings():
            warnings.simplefilter("ignore", Image.DecompressionBombWarning)
            with Image.open(io.BytesIO(data)) as image:
                width, height = image.size
    except Image.DecompressionBombError:
        return (
            f"the image declares more pixels than this server decodes ({max_pixels}, "
            "--max-image-pixels): send a smaller image."
        )
    except (UnidentifiedImageError, OSError, ValueError, SyntaxError):
        return "the bytes are not a PNG, JPEG, GIF or BMP image: send the encoded image file."
    if width * height > max_pixels:
        return (
            f"the image declares {width}x{height} = {width * height} pixels; the limit is "
            f"{max_pixels} (--max-image-pixels): send a smaller image."
        )
    return None
