"""The vision case's data statistics: of an ingested image folder, and of served images.

Features (the same for training data and served traffic, so that they compare):
label (the class folder; training data only), image_width and image_height
(pixels), image_mode (Pillow's mode: L, RGB, ...), image_format (JPEG, PNG) and
image_brightness (the mean of the greyscale pixels, 0-255). Details: images per
class and split, and the files skipped at ingest by reason (decode failures).
"""

from __future__ import annotations

import base64
import binascii
import io
from collections.abc import Iterable
from pathlib import Path

import numpy as np
from PIL import Image

from trainer.data_validation.feature_stats import (
    CATEGORICAL,
    NUMERIC,
    categorical_stats,
    feature,
    numeric_stats,
)
from trainer.data_validation.statistics import statistics_document

# Brightness is measured on a thumbnail no wider than this: the mean hardly moves, the decode
# of a large JPEG gets several times cheaper (Pillow's draft mode).
_BRIGHTNESS_SIDE = 256
_PROPERTIES = ("image_width", "image_height", "image_mode", "image_format", "image_brightness")


def image_properties(data: bytes) -> dict | None:
    """An encoded image's width, height, mode, format and mean brightness; None if unreadable."""
    try:
        with Image.open(io.BytesIO(data)) as image:
            width, height = image.size
            mode, kind = image.mode, image.format
            image.draft("L", (_BRIGHTNESS_SIDE, _BRIGHTNESS_SIDE))
            grey = image.convert("L")
            grey.thumbnail((_BRIGHTNESS_SIDE, _BRIGHTNESS_SIDE))
            brightness = float(np.asarray(grey, dtype=np.float32).mean())
    except (OSError, SyntaxError, ValueError, Image.DecompressionBombError):
        return None
    return dict(zip(_PROPERTIES, (width, height, mode, kind, brightness), strict=True))


def property_features(properties: Iterable[dict | None]) -> dict:
    """Statistics features of images' properties (None: an image that did not decode)."""
    rows = list(properties)
    readable = [p for p in rows if p is not None]

    def column(name: str) -> list:
        return [p[name] for p in readable]

    return {
        "image_width": feature(NUMERIC, "derived", numeric_stats(column("image_width")), "pixels"),
        "image_height": feature(
            NUMERIC, "derived", numeric_stats(column("image_height")), "pixels"
        ),
        "image_mode": feature(CATEGORICAL, "derived", categorical_stats(column("image_mode"))),
        "image_format": feature(CATEGORICAL, "derived", categorical_stats(column("image_format"))),
        "image_brightness": feature(
            NUMERIC, "derived", numeric_stats(column("image_brightness")), "mean grey level, 0-255"
        ),
    }


def dataset_statistics(dataset_dir: str | Path, manifest: dict) -> dict:
    """The statistics document of an ingested image folder (its manifest as ingest wrote it)."""
    root = Path(dataset_dir)
    entries = manifest["files"]
    properties = [image_properties((root / entry["path"]).read_bytes()) for entry in entries]
    features = {
        "label": feature(
            CATEGORICAL, "label", categorical_stats(e["label"] for e in entries), "class folder"
        ),
        **property_features(properties),
    }
    details = {
        "images_per_class_and_split": manifest["counts"],
        "files_skipped_by_reason": manifest["skipped_by_reason"] or {"none": 0},
    }
    return statistics_document("vision", manifest["source_uri"], len(entries), features, details)


def served_statistics(instances: list, source: str, model_metadata: dict) -> dict:
    """The statistics document of served instances: {"b64": ...}, or the model's input
    (its metadata's input name) holding one."""
    name = model_metadata.get("input", {}).get("name", "")
    encoded = (_instance_bytes(instance, name) for instance in instances)
    properties = [image_properties(data) if data else None for data in encoded]
    unreadable = sum(p is None for p in properties)
    details = {"instances": {"served": len(instances), "unreadable": unreadable}}
    return statistics_document(
        "vision", source, len(instances), property_features(properties), details
    )


def _instance_bytes(instance: object, input_name: str) -> bytes | None:
    if isinstance(instance, dict) and input_name in instance:
        instance = instance[input_name]  # {"image_bytes": {"b64": ...}}
    if isinstance(instance, dict) and isinstance(instance.get("b64"), str):
        try:
            return base64.b64decode(instance["b64"], validate=True)
        except (binascii.Error, ValueError):
            return None
    return None
