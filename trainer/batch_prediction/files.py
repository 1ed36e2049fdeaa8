"""Streaming reads of local files and `gs://` objects (the storage client, which honours
STORAGE_EMULATOR_HOST): a source names one file, a folder or prefix, or a `*` pattern.

Lines are read as they arrive (`Blob.open` fetches 40 MiB chunks; local files are
buffered), so an input larger than memory is never held whole.
"""

from __future__ import annotations

import fnmatch
import io
from collections.abc import Iterator
from pathlib import Path

from serving.contracts.errors import InputError
from serving.contracts.storage import parse_source_uri, storage_client


def expand(uri: str) -> list[str]:
    """The files `uri` names, sorted: itself, the files under it (a folder or prefix), or those
    matching its `*` pattern. InputError when there are none."""
    source = parse_source_uri(uri)
    if source.scheme == "gs":
        files = _gcs_files(source.bucket, source.prefix)
    else:
        files = _local_files(Path(source.path).expanduser())
    if not files:
        raise InputError(
            f"Batch prediction source {uri!r} names no file: check the path (a file, a folder "
            "or prefix of files, or a pattern with *)."
        )
    return files


def _local_files(path: Path) -> list[str]:
    if "*" in path.name:
        return sorted(str(p) for p in path.parent.glob(path.name) if p.is_file())
    if path.is_file():
        return [str(path)]
    if path.is_dir():
        return sorted(str(p) for p in path.rglob("*") if p.is_file())
    return []


def _gcs_files(bucket: str, prefix: str) -> list[str]:
    pattern = prefix if "*" in prefix else ""
    listed = prefix.split("*", 1)[0] if pattern else prefix
    names = [
        blob.name
        for blob in storage_client().list_blobs(bucket, prefix=listed)
        if not blob.name.endswith("/")
    ]
    if pattern:
        names = [n for n in names if fnmatch.fnmatchcase(n, pattern)]
    elif prefix in names:
        names = [prefix]
    else:
        under = prefix.rstrip("/") + "/" if prefix else ""
        names = [n for n in names if n.startswith(under)]
    return sorted(f"gs://{bucket}/{name}" for name in names)


def open_lines(uri: str) -> Iterator[str]:
    """The lines of the file `uri` (UTF-8, newline stripped), streamed."""
    with _open_binary(uri) as raw:
        text = io.TextIOWrapper(raw, encoding="utf-8", errors="strict", newline="")
        try:
            for line in text:
                yield line.rstrip("\r\n")
        except UnicodeDecodeError as exc:
            raise InputError(f"{uri} is not UTF-8 text ({exc}): save it as UTF-8.") from None


def open_text(uri: str) -> io.TextIOBase:
    """The file `uri` as UTF-8 text (newlines kept as written, for the csv module)."""
    return io.TextIOWrapper(_open_binary(uri), encoding="utf-8", newline="")


def read_bytes(uri: str) -> bytes:
    """The whole file `uri` (one image of a file list)."""
    with _open_binary(uri) as raw:
        return raw.read()


def _open_binary(uri: str):
    source = parse_source_uri(uri)
    if source.scheme == "gs":
        from google.api_core import exceptions as gexc

        blob = storage_client().bucket(source.bucket).blob(source.prefix)
        try:
            blob.reload()  # fails at once on a missing object, not at the first read
        except gexc.NotFound:
            raise InputError(f"Object {uri!r} does not exist.") from None
        return blob.open("rb")
    try:
        return open(Path(source.path).expanduser(), "rb")
    except OSError as exc:
        raise InputError(f"Cannot read {uri!r}: {exc.strerror}.") from None
