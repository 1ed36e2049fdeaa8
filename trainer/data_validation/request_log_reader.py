"""Read the prediction server's request-response log (docs/request-log.md), local or gs://.

Only whole files named requests-*.jsonl are read, as the writer guarantees; a line
that is not a record of the documented layout is counted and skipped, not fatal:
monitoring reads what production wrote, and one bad line must not hide the rest.

A file's name holds the time it was written, after every record in it. Files are read
newest first, and once the model's newest record is found, files written before the
asked-for span (`within`, back from that record) are not read at all: a log that grows
for months costs a monitoring run only its last windows, and other models' later
traffic in the same log cuts nothing of this model's. A line that is not UTF-8 is a bad
line like any other; a logging time without an offset is UTC, as the writer writes.
"""

from __future__ import annotations

import datetime as dt
import json
import logging
import re
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import Path

from serving.contracts.errors import InputError
from serving.contracts.storage import parse_source_uri, storage_client

FILE_PREFIX, FILE_SUFFIX = "requests-", ".jsonl"
_WRITTEN_AT = re.compile(r"requests-(\d{8}T\d{6})-")
# Records reach a file within seconds (docs/request-log.md); a writer that fell behind by
# more than this could have files older than their newest records.
_WRITE_SLACK = dt.timedelta(hours=1)

log = logging.getLogger(__name__)


@dataclass(frozen=True)
class LoggedRequest:
    time: dt.datetime  # UTC
    model_version: str
    instances: list


@dataclass
class RequestLogRead:
    requests: list[LoggedRequest]
    files: int
    bad_lines: int


def read_request_log(
    uri: str, model: str, version: str = "", within: dt.timedelta | None = None
) -> RequestLogRead:
    """The logged requests of `model` (and `version`, if given) under `uri`, oldest first;
    with `within`, only those of files written in that time before its newest record."""
    requests: list[LoggedRequest] = []
    files, bad = 0, 0
    oldest: dt.datetime | None = None  # files written before this hold nothing asked for
    for name, written, read_lines in _log_files(uri):
        if oldest is not None and written is not None and written < oldest:
            continue
        files += 1
        for number, line in enumerate(read_lines(), 1):
            record = _record(line)
            if record is None:
                bad += 1
                if bad <= 3:
                    log.warning("Skipping line %d of %s: not a request-log record", number, name)
                continue
            if record.get("model") == model and (not version or record["model_version"] == version):
                requests.append(
                    LoggedRequest(record["time"], str(record["model_version"]), record["instances"])
                )
        if within is not None and oldest is None and requests:
            oldest = max(r.time for r in requests) - within - _WRITE_SLACK
    requests.sort(key=lambda r: r.time)
    if oldest is not None:
        requests = [r for r in requests if r.time >= oldest + _WRITE_SLACK]
    return RequestLogRead(requests, files, bad)


def _record(line: bytes) -> dict | None:
    try:
        record = json.loads(line.decode("utf-8"))
        time = dt.datetime.fromisoformat(record["logging_time"])
        record["time"] = (time if time.tzinfo else time.replace(tzinfo=dt.UTC)).astimezone(dt.UTC)
    except (ValueError, TypeError, KeyError, AttributeError):  # UnicodeDecodeError included
        return None
    if not isinstance(record.get("instances"), list) or "model_version" not in record:
        return None
    return record


def _written_at(name: str) -> dt.datetime | None:
    found = _WRITTEN_AT.search(name.rsplit("/", 1)[-1])
    if not found:
        return None
    return dt.datetime.strptime(found.group(1), "%Y%m%dT%H%M%S").replace(tzinfo=dt.UTC)


LogFile = tuple[str, dt.datetime | None, Callable[[], list[bytes]]]


def _log_files(uri: str) -> Iterator[LogFile]:
    """(name, time written, its lines when called) of each log file, newest first."""
    if uri.startswith("gs://"):
        yield from _gcs_files(uri)
        return
    root = Path(uri)
    if not root.is_dir():
        raise InputError(
            f"Request log {uri}: no such directory. Serve with --request-log {uri} (make serve "
            "writes build/request-log), or pass the directory the server writes."
        )
    for path in sorted(root.glob(f"{FILE_PREFIX}*{FILE_SUFFIX}"), reverse=True):
        yield str(path), _written_at(path.name), lambda path=path: _local_lines(path)


def _local_lines(path: Path) -> list[bytes]:
    try:
        return path.read_bytes().splitlines()
    except OSError as exc:
        log.warning("Skipping %s: %s", path, exc)
        return []


def _gcs_files(uri: str) -> Iterator[LogFile]:
    from google.api_core import exceptions as gexc

    source = parse_source_uri(uri)
    prefix = f"{source.prefix}/" if source.prefix else ""
    client = storage_client()
    try:
        blobs = sorted(
            (
                b
                for b in client.list_blobs(source.bucket, prefix=prefix + FILE_PREFIX)
                if "/" not in b.name[len(prefix) :] and b.name.endswith(FILE_SUFFIX)
            ),
            key=lambda b: b.name,
            reverse=True,
        )
    except gexc.NotFound:
        raise InputError(f"Request log {uri}: bucket {source.bucket!r} does not exist.") from None
    except gexc.Forbidden:
        raise InputError(
            f"Request log {uri}: access denied; grant roles/storage.objectViewer on the bucket."
        ) from None

    def lines(blob) -> list[bytes]:
        try:
            return blob.download_as_bytes().splitlines()
        except gexc.NotFound as exc:  # removed since it was listed
            log.warning("Skipping gs://%s/%s: %s", source.bucket, blob.name, exc)
            return []

    for blob in blobs:
        name = f"gs://{source.bucket}/{blob.name}"
        yield name, _written_at(blob.name), lambda blob=blob: lines(blob)
