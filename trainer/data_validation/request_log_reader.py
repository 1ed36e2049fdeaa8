"""Read the prediction server's request-response log (docs/request-log.md), local or gs://.

Only whole files named requests-*.jsonl are read, as the writer guarantees; a line
that is not a record of the documented layout is counted and skipped, not fatal:
monitoring reads what production wrote, and one bad line must not hide the rest.

A file's name holds the time it was written, after every record in it, so files older
than what is asked for (`within`, back from the newest file) are not read at all: a
log that grows for months costs a monitoring run only its last windows.
"""

from __future__ import annotations

import datetime as dt
import json
import logging
import re
from collections.abc import Iterator
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
    with `within`, only from files written in that time before the newest one."""
    requests, files, bad = [], 0, 0
    for name, lines in _log_files(uri, within):
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


def _recent(names: list[str], within: dt.timedelta | None) -> set[str]:
    """The names of files written within `within` (and the slack) of the newest file."""
    times = {name: _written_at(name) for name in names}
    known = [t for t in times.values() if t is not None]
    if within is None or not known:
        return set(names)
    oldest = max(known) - within - _WRITE_SLACK
    return {name for name, t in times.items() if t is None or t >= oldest}


def _written_at(name: str) -> dt.datetime | None:
    found = _WRITTEN_AT.search(name.rsplit("/", 1)[-1])
    if not found:
        return None
    return dt.datetime.strptime(found.group(1), "%Y%m%dT%H%M%S").replace(tzinfo=dt.UTC)


def _log_files(uri: str, within: dt.timedelta | None) -> Iterator[tuple[str, list[str]]]:
    if uri.startswith("gs://"):
        yield from _gcs_files(uri, within)
        return
    root = Path(uri)
    if not root.is_dir():
        raise InputError(
            f"Request log {uri}: no such directory. Serve with --request-log {uri} (make serve "
            "writes build/request-log), or pass the directory the server writes."
        )
    paths = sorted(root.glob(f"{FILE_PREFIX}*{FILE_SUFFIX}"))
    recent = _recent([p.name for p in paths], within)
    for path in (p for p in paths if p.name in recent):
        try:
            yield str(path), path.read_text(encoding="utf-8").splitlines()
        except (OSError, UnicodeDecodeError) as exc:
            log.warning("Skipping %s: %s", path, exc)


def _gcs_files(uri: str, within: dt.timedelta | None) -> Iterator[tuple[str, list[str]]]:
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
    recent = _recent([b.name for b in blobs], within)
    for blob in (b for b in blobs if b.name in recent):
        try:
            text = blob.download_as_bytes().decode("utf-8")
        except (gexc.NotFound, UnicodeDecodeError) as exc:
            log.warning("Skipping gs://%s/%s: %s", source.bucket, blob.name, exc)
            continue
        yield f"gs://{source.bucket}/{blob.name}", text.splitlines()
