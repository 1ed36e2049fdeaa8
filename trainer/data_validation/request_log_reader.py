"""Read the prediction server's request-response log (docs/request-log.md), local or gs://.

Only whole files named requests-*.jsonl are read, as the writer guarantees; a line
that is not a record of the documented layout is counted and skipped, not fatal:
monitoring reads what production wrote, and one bad line must not hide the rest.
"""

from __future__ import annotations

import datetime as dt
import json
import logging
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

from serving.contracts.errors import InputError
from serving.contracts.storage import parse_source_uri, storage_client

FILE_PREFIX, FILE_SUFFIX = "requests-", ".jsonl"

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


def read_request_log(uri: str, model: str, version: str = "") -> RequestLogRead:
    """The logged requests of `model` (and `version`, if given) under `uri`, oldest first."""
    requests, files, bad = [], 0, 0
    for name, lines in _log_files(uri):
        files += 1
        for number, line in enumerate(lines, 1):
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
    requests.sort(key=lambda r: r.time)
    return RequestLogRead(requests, files, bad)


def _record(line: str) -> dict | None:
    try:
        record = json.loads(line)
        record["time"] = dt.datetime.fromisoformat(record["logging_time"]).astimezone(dt.UTC)
    except (ValueError, TypeError, KeyError, AttributeError):
        return None
    if not isinstance(record.get("instances"), list) or "model_version" not in record:
        return None
    return record


def _log_files(uri: str) -> Iterator[tuple[str, list[str]]]:
    if uri.startswith("gs://"):
        yield from _gcs_files(uri)
        return
    root = Path(uri)
    if not root.is_dir():
        raise InputError(
            f"Request log {uri}: no such directory. Serve with --request-log {uri} (make serve "
            "writes build/request-log), or pass the directory the server writes."
        )
    for path in sorted(root.glob(f"{FILE_PREFIX}*{FILE_SUFFIX}")):
        try:
            yield str(path), path.read_text(encoding="utf-8").splitlines()
        except (OSError, UnicodeDecodeError) as exc:
            log.warning("Skipping %s: %s", path, exc)


def _gcs_files(uri: str) -> Iterator[tuple[str, list[str]]]:
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
        )
    except gexc.NotFound:
        raise InputError(f"Request log {uri}: bucket {source.bucket!r} does not exist.") from None
    except gexc.Forbidden:
        raise InputError(
            f"Request log {uri}: access denied; grant roles/storage.objectViewer on the bucket."
        ) from None
    for blob in blobs:
        try:
            text = blob.download_as_bytes().decode("utf-8")
        except (gexc.NotFound, UnicodeDecodeError) as exc:
            log.warning("Skipping gs://%s/%s: %s", source.bucket, blob.name, exc)
            continue
        yield f"gs://{source.bucket}/{blob.name}", text.splitlines()
