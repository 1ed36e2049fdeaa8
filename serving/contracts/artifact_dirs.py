"""Writing artifacts so that a failed step never leaves one that looks complete.

Each artifact directory gets a marker file written last (`manifest.json` for
datasets, `metadata.json` for models); readers refuse a directory without it.
On failure the directory is removed. Files are written to a temporary name
and renamed, which also holds on the /gcs FUSE mount Vertex uses (directory
renames do not, hence markers rather than renaming whole directories).
"""

from __future__ import annotations

import contextlib
import json
import os
import shutil
from collections.abc import Iterator
from pathlib import Path
from typing import Any


@contextlib.contextmanager
def building_directory(path: str | os.PathLike, marker: str) -> Iterator[Path]:
    """Yield an empty directory at `path`; delete it if the block raises.

    A directory holding `marker` is a finished artifact and is never replaced;
    one without it is what a killed attempt left behind, and is cleared.
    """
    path = Path(path)
    if (path / marker).exists():
        raise FileExistsError(
            f"{path} already holds a complete artifact ({marker}): write to a new "
            "directory, or remove it first."
        )
    if path.exists():
        shutil.rmtree(path)
    path.mkdir(parents=True)
    try:
        yield path
    except BaseException:
        shutil.rmtree(path, ignore_errors=True)
        raise


def write_json(path: str | os.PathLike, payload: Any) -> None:
    """Write JSON through a temporary file and an atomic rename."""
    path = Path(path)
    tmp = path.with_name(f".{path.name}.tmp")
    tmp.write_text(json.dumps(payload, indent=2, sort_keys=True) + "\n")
    os.replace(tmp, path)


def read_marker_json(directory: str | os.PathLike, marker: str, what: str) -> dict:
    """Read the completion marker of an artifact directory, or refuse it."""
    path = Path(directory) / marker
    if not path.is_file():
        raise FileNotFoundError(
            f"{what} at {directory} is incomplete or missing (no {marker}): "
            "re-run the step that produces it."
        )
    return json.loads(path.read_text())
