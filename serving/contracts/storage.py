"""Where data comes from: `gs://bucket/prefix` through the Cloud Storage client,
or a local directory. Both are copied into a local directory with the same
relative layout, so everything downstream reads plain files.

`tf.io.gfile` also reads gs://, but its endpoint cannot be pointed at an
emulator; the storage client honours STORAGE_EMULATOR_HOST, so the same code
runs against the emulator locally and Cloud Storage on Vertex.
"""

from __future__ import annotations

import os
import shutil
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from pathlib import Path
from urllib.parse import urlparse

from serving.contracts.errors import InputError

_DOWNLOAD_THREADS = 8


@dataclass(frozen=True)
class SourceUri:
    """A parsed data source: scheme 'gs' (bucket + prefix) or 'file' (path)."""

    uri: str
    scheme: str
    bucket: str = ""
    prefix: str = ""
    path: str = ""


def parse_source_uri(uri: str) -> SourceUri:
    """Parse `gs://bucket/prefix` or a local path; anything else is refused."""
    if not uri or not uri.strip():
        raise InputError("The source URI is empty: give gs://bucket/prefix or a local directory.")
    uri = uri.strip()
    if not _is_utf8(uri):
        raise InputError(
            f"Source URI '{escaped_name(uri)}' is not valid UTF-8: rename the file or folder "
            "(the source is recorded in the dataset manifest and the pipeline's metadata, "
            "which hold UTF-8 text only)."
        )
    parsed = urlparse(uri)
    if parsed.scheme == "gs":
        if not parsed.netloc:
            raise InputError(f"Source URI {uri!r} has no bucket: use gs://bucket/prefix.")
        return SourceUri(uri, "gs", bucket=parsed.netloc, prefix=parsed.path.strip("/"))
    if parsed.scheme == "file":
        return SourceUri(uri, "file", path=parsed.path)
    if parsed.scheme == "" or (len(parsed.scheme) == 1 and os.name == "nt"):
        return SourceUri(uri, "file", path=uri)
    raise InputError(
        f"Unsupported scheme {parsed.scheme!r} in source URI {uri!r}: "
        "use gs://bucket/prefix or a local directory path."
    )


def copy_source_tree(uri: str, dest: Path) -> list[str]:
    """Copy every file under `uri` into `dest`, keeping relative paths.

    Returns the relative paths copied (POSIX separators), sorted. A local name
    that is not UTF-8 is copied too, and returned as Python decodes it (see
    `name_problem`, which callers that use names as data check).
    """
    source = parse_source_uri(uri)
    dest.mkdir(parents=True, exist_ok=True)
    if source.scheme == "gs":
        return _copy_from_gcs(source, dest)
    return _copy_from_local(source, dest)


def name_problem(rel: str) -> str | None:
    """None when each part of the relative path `rel` is valid UTF-8, else which is not.

    On POSIX a file name is bytes; Python gives the bytes that are not UTF-8 as lone
    surrogates, which a JSON manifest, a hash or a tf.data path cannot encode.
    (Cloud Storage object names are always UTF-8, so only local sources have them.)
    """
    *folders, name = rel.split("/")
    for part, what in [*((folder, "folder") for folder in folders), (name, "file")]:
        if not _is_utf8(part):
            return f"{what} name is not valid UTF-8 ({escaped_name(part)}): rename it"
    return None


def _is_utf8(name: str) -> bool:
    try:
        name.encode("utf-8")
    except UnicodeEncodeError:
        return False
    return True


def escaped_name(name: str) -> str:
    """`name` with the bytes that are not UTF-8 written as \\xNN escapes, printable anywhere."""
    try:
        raw = name.encode("utf-8", "surrogateescape")
    except UnicodeEncodeError:  # a lone surrogate that no byte decoded to (Windows names)
        return name.encode("utf-8", "backslashreplace").decode("utf-8")
    return raw.decode("utf-8", "backslashreplace")


def _copy_from_local(source: SourceUri, dest: Path) -> list[str]:
    root = Path(source.path).expanduser()
    if not root.exists():
        raise InputError(f"Source directory {source.uri!r} does not exist.")
    if not root.is_dir():
        raise InputError(
            f"Source {source.uri!r} is a file: point it at a directory of class folders."
        )
    copied = []
    for file in sorted(p for p in root.rglob("*") if p.is_file()):
        rel = file.relative_to(root).as_posix()
        target = dest / rel
        target.parent.mkdir(parents=True, exist_ok=True)
        shutil.copyfile(file, target)
        copied.append(rel)
    return copied


def storage_client():
    """A Cloud Storage client; anonymous against an emulator, ADC otherwise."""
    from google.auth.exceptions import DefaultCredentialsError
    from google.cloud import storage

    if os.environ.get("STORAGE_EMULATOR_HOST"):
        from google.auth.credentials import AnonymousCredentials

        return storage.Client(project="local-emulator", credentials=AnonymousCredentials())
    try:
        return storage.Client()
    except DefaultCredentialsError as exc:
        raise InputError(
            "No Google Cloud credentials found for reading gs:// data: run "
            "`gcloud auth application-default login`, or set STORAGE_EMULATOR_HOST "
            "to use a local storage emulator."
        ) from exc


def _copy_from_gcs(source: SourceUri, dest: Path) -> list[str]:
    from google.api_core import exceptions as gexc

    client = storage_client()
    prefix = f"{source.prefix}/" if source.prefix else ""
    try:
        bucket = client.bucket(source.bucket)
        if not bucket.exists():
            raise InputError(
                f"Bucket {source.bucket!r} of source URI {source.uri!r} does not exist "
                "(or these credentials cannot see it): check the bucket name."
            )
        blobs = [
            b for b in client.list_blobs(source.bucket, prefix=prefix) if not b.name.endswith("/")
        ]
    except gexc.Forbidden as exc:
        raise InputError(
            f"Access to {source.uri!r} was denied: grant the service account "
            "roles/storage.objectViewer on the bucket."
        ) from exc

    def download(blob) -> str:
        rel = blob.name[len(prefix) :]
        if any(part in ("", ".", "..") for part in rel.split("/")):
            raise InputError(
                f"Object name {blob.name!r} under {source.uri!r} has an empty, '.' or '..' "
                "path segment: rename the object."
            )
        target = dest / rel
        target.parent.mkdir(parents=True, exist_ok=True)
        blob.download_to_filename(str(target))
        return rel

    with ThreadPoolExecutor(_DOWNLOAD_THREADS) as pool:
        return sorted(pool.map(download, blobs))


def download_object(uri: str, dest_dir: str | Path) -> Path:
    """Copy one gs:// object into `dest_dir`; return the local file."""
    from google.api_core import exceptions as gexc

    source = parse_source_uri(uri)
    if source.scheme != "gs" or not source.prefix:
        raise InputError(f"{uri!r} is not a gs://bucket/object URI.")
    target = Path(dest_dir) / Path(source.prefix).name
    try:
        storage_client().bucket(source.bucket).blob(source.prefix).download_to_filename(str(target))
    except gexc.NotFound as exc:
        target.unlink(missing_ok=True)
        raise InputError(f"Object {uri!r} does not exist.") from exc
    return target
