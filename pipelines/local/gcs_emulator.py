"""A Cloud Storage emulator (gcp-storage-emulator) on 127.0.0.1, for offline gs:// runs.

with running_gcs_emulator() as host:   # sets STORAGE_EMULATOR_HOST
    upload_directory(local_dir, "gs://bucket/prefix")
"""

from __future__ import annotations

import contextlib
import os
import socket
import subprocess
import sys
import tempfile
import time
import urllib.request
from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

from serving.contracts.storage import parse_source_uri, storage_client

_START_TIMEOUT_S = 30
_UPLOAD_THREADS = 8


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


@contextlib.contextmanager
def running_gcs_emulator() -> Iterator[str]:
    """Start the emulator in memory, export STORAGE_EMULATOR_HOST, stop it on exit."""
    port = free_port()
    host = f"http://127.0.0.1:{port}"
    # Its log goes to a file: an unread pipe fills up and blocks the emulator.
    log_file = tempfile.TemporaryFile()  # noqa: SIM115 (lives as long as the emulator)
    process = subprocess.Popen(
        [
            sys.executable,
            "-m",
            "gcp_storage_emulator",
            "start",
            "--quiet",
            "--host",
            "127.0.0.1",
            "--port",
            str(port),
            "--in-memory",
        ],
        stdout=log_file,
        stderr=subprocess.STDOUT,
    )
    previous = os.environ.get("STORAGE_EMULATOR_HOST")
    try:
        _wait_until_up(host, process, log_file)
        os.environ["STORAGE_EMULATOR_HOST"] = host
        yield host
    finally:
        if previous is None:
            os.environ.pop("STORAGE_EMULATOR_HOST", None)
        else:
            os.environ["STORAGE_EMULATOR_HOST"] = previous
        process.terminate()
        try:
            process.wait(timeout=10)
        except subprocess.TimeoutExpired:
            process.kill()
            process.wait(timeout=10)
        log_file.close()


@contextlib.contextmanager
def serving_on_emulator(local: Path, uri: str) -> Iterator[str]:
    """Start the emulator and upload `local` (a file or a directory) to `uri`, for the block."""
    with running_gcs_emulator() as host:
        if local.is_dir():
            count = upload_directory(local, uri)
            print(f"Storage emulator on {host}: uploaded {count} files to {uri}")
        else:
            upload_file(local, uri)
            print(f"Storage emulator on {host}: uploaded {local.name} to {uri}")
        yield host


def upload_directory(local_dir: str | Path, uri: str) -> int:
    """Create the bucket if needed and upload every file under `local_dir` to `uri`."""
    target = parse_source_uri(uri)
    bucket = _bucket(target.bucket)
    files = sorted(p for p in Path(local_dir).rglob("*") if p.is_file())

    def upload(file: Path) -> None:
        name = "/".join(filter(None, [target.prefix, file.relative_to(local_dir).as_posix()]))
        bucket.blob(name).upload_from_filename(str(file))

    with ThreadPoolExecutor(_UPLOAD_THREADS) as pool:
        list(pool.map(upload, files))
    return len(files)


def upload_file(path: str | Path, uri: str) -> None:
    """Create the bucket if needed and upload the file at `path` as the object `uri`."""
    target = parse_source_uri(uri)
    _bucket(target.bucket).blob(target.prefix).upload_from_filename(str(path))


def _bucket(name: str):
    client = storage_client()
    bucket = client.bucket(name)
    return bucket if bucket.exists() else client.create_bucket(name)


def _wait_until_up(host: str, process: subprocess.Popen, log_file) -> None:
    deadline = time.monotonic() + _START_TIMEOUT_S
    while time.monotonic() < deadline:
        if process.poll() is not None:
            raise RuntimeError(
                f"The storage emulator exited with code {process.returncode}: {_tail(log_file)}"
            )
        try:
            with urllib.request.urlopen(f"{host}/storage/v1/b", timeout=1):
                return
        except OSError:
            time.sleep(0.2)
    process.kill()
    raise RuntimeError(f"The storage emulator did not answer on {host} within {_START_TIMEOUT_S}s.")


def _tail(log_file, limit: int = 2000) -> str:
    log_file.seek(0)
    return log_file.read().decode(errors="replace")[-limit:]
