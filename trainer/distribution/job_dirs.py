"""Where training writes: Vertex AI's AIP_* output directories as local paths.

A Vertex AI custom job with a base output directory sets AIP_MODEL_DIR,
AIP_CHECKPOINT_DIR and AIP_TENSORBOARD_LOG_DIR to gs:// URIs, and mounts
Cloud Storage with FUSE at /gcs/<bucket>/... The project's writers use plain
files (pathlib), so gs://bucket/path is read as /gcs/bucket/path. Locally none
of the variables is set and nothing changes.
"""

from __future__ import annotations

import os
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path

from serving.contracts.errors import InputError

# Where Vertex AI mounts Cloud Storage (Cloud Storage FUSE); tests point it elsewhere.
GCS_FUSE_ROOT = Path("/gcs")

MODEL_DIR_VAR = "AIP_MODEL_DIR"
CHECKPOINT_DIR_VAR = "AIP_CHECKPOINT_DIR"
TENSORBOARD_DIR_VAR = "AIP_TENSORBOARD_LOG_DIR"


@dataclass(frozen=True)
class JobDirs:
    """Local directories for the model, BackupAndRestore checkpoints and TensorBoard logs."""

    model_dir: Path | None = None
    checkpoint_dir: Path | None = None
    tensorboard_dir: Path | None = None


def local_path(uri: str | os.PathLike, source: str = "The output directory") -> Path:
    """`gs://bucket/path` -> `<GCS_FUSE_ROOT>/bucket/path`; a local path as it is.

    `source` (the variable or flag the URI came from) names it in the error message.
    """
    text = os.fspath(uri)
    if not text.startswith("gs://"):
        return Path(text)
    bucket, _, path = text[len("gs://") :].partition("/")
    if not bucket:
        raise InputError(f"{source} {text!r} has no bucket: use gs://bucket/path.")
    if not GCS_FUSE_ROOT.is_dir():
        raise InputError(
            f"{source} is {text!r}, but Cloud Storage is not mounted at {GCS_FUSE_ROOT}: "
            f"run on Vertex AI where {GCS_FUSE_ROOT} is mounted, or pass a local directory."
        )
    return GCS_FUSE_ROOT / bucket / path.strip("/")


def job_dirs(
    model_dir: str | os.PathLike | None = None, environ: Mapping[str, str] | None = None
) -> JobDirs:
    """The training output directories: `model_dir` if given, else the AIP_* variables.

    Unset and empty values both mean "not set" (None).
    """
    env = os.environ if environ is None else environ

    def from_env(variable: str) -> Path | None:
        value = env.get(variable, "").strip()
        return local_path(value, variable) if value else None

    explicit = os.fspath(model_dir).strip() if model_dir is not None else ""
    return JobDirs(
        model_dir=local_path(explicit, "model_dir") if explicit else from_env(MODEL_DIR_VAR),
        checkpoint_dir=from_env(CHECKPOINT_DIR_VAR),
        tensorboard_dir=from_env(TENSORBOARD_DIR_VAR),
    )
