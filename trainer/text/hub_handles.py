"""Check a TF Hub handle before training: it must load and embed a batch of strings.

A handle is what `hub.KerasLayer` takes: a tfhub.dev or Kaggle Models URL, a
`gs://` path or a local SavedModel directory. URLs are downloaded into
TFHUB_CACHE_DIR (default: a temporary directory) and read from there
afterwards; a cloud image can bake a module in by extracting it into
`$TFHUB_CACHE_DIR/<sha1 of the URL>` (`hub_cache_path` says where), so that a
run never downloads it.
"""

from __future__ import annotations

import hashlib
import os
from pathlib import Path
from urllib.parse import urlparse

from serving.contracts.errors import InputError

PROBE = ("A short test sentence.", "")


def hub_cache_path(handle: str) -> Path | None:
    """Where tensorflow_hub looks for a downloaded `handle` (None without TFHUB_CACHE_DIR)."""
    cache = os.environ.get("TFHUB_CACHE_DIR")
    if not cache:
        return None
    return Path(cache) / hashlib.sha1(handle.encode("utf8")).hexdigest()


def check_text_embedding(handle: str) -> int:
    """Load `handle` and embed two strings; return the embedding size.

    Raises InputError naming the handle when it does not exist, cannot be
    loaded, or does not map a batch of strings to a batch of float vectors.
    """
    import tensorflow as tf
    import tensorflow_hub as hub

    if not handle or not handle.strip():
        raise InputError(
            "The hub handle is empty: give a TF Hub URL, a gs:// path or a local SavedModel "
            "directory, e.g. https://tfhub.dev/google/universal-sentence-encoder/4"
        )
    scheme = urlparse(handle).scheme
    if scheme == "" and not (Path(handle) / "saved_model.pb").is_file():
        raise InputError(
            f"Hub handle {handle!r} does not exist here: a local handle must be a SavedModel "
            "directory (holding saved_model.pb)."
        )
    try:
        module = hub.load(handle)
    except Exception as exc:  # hub raises many types (OSError, ValueError, tf errors)
        cached = hub_cache_path(handle)
        hint = (
            f"; to use it offline, extract the module into {cached}"
            if cached
            else "; set TFHUB_CACHE_DIR to a directory that holds it, to use it offline"
        )
        raise InputError(
            f"Hub handle {handle!r} cannot be loaded ({type(exc).__name__}: "
            f"{str(exc).splitlines()[0] if str(exc) else 'no detail'}){hint}."
        ) from None
    try:
        vectors = module(tf.constant(PROBE))
    except Exception as exc:
        raise InputError(
            f"Hub handle {handle!r} is not a text embedding: calling it on a batch of strings "
            f"failed ({type(exc).__name__})."
        ) from None
    if isinstance(vectors, dict):  # some modules return {"outputs": ...} or {"default": ...}
        vectors = next(iter(vectors.values()))
    shape = getattr(vectors, "shape", None)
    if shape is None or len(shape) != 2 or shape[0] != len(PROBE) or not vectors.dtype.is_floating:
        raise InputError(
            f"Hub handle {handle!r} is not a text embedding: it maps {len(PROBE)} strings to "
            f"{getattr(vectors, 'dtype', type(vectors).__name__)} {shape}, not to "
            f"[{len(PROBE)}, dim] floats."
        )
    return int(shape[1])
