"""Request-response logging for model monitoring, as Vertex AI endpoints log them.

A sampled fraction of predict requests is kept, each as one JSON record a line in
JSONL files under a local directory or gs://bucket/prefix:

    {"schema_version": 1,              # this layout; a change of meaning raises it
     "logging_time": "2025-01-31T12:00:00.123456+00:00",   # RFC 3339, UTC
     "request_id": "<uuid4 hex>",      # unique per record
     "model": "<name>", "model_version": "<version>",
     "deployed_model_id": "<Vertex AI deployed model id, or ''>",
     "instances": [...],               # the request's instances, as JSON
     "predictions": [...]}             # the answers, one per instance, in order

Files are named requests-<UTC yyyymmddTHHMMSS>-<pid>-<seq>.jsonl (the time the file
was written, the writing process and its count of files). A file is complete when it
can be seen: a local one is written under a hidden temporary name (.requests-...tmp)
and renamed when complete, a gs:// one is uploaded as one object; a name is never
overwritten (a taken one moves to the next seq). docs/request-log.md is the reader's
guide.

`record` never blocks or raises: it samples, then puts the record on a bounded queue;
when the queue is full the record is dropped and counted in
serving_request_log_dropped_total. A background thread writes a file every
`max_records` records or `max_age_s` seconds, whichever comes first. A write that
fails drops its records (counted), is logged once per distinct problem, and the
thread goes on. `close()` writes what is queued, waiting at most `timeout_s`.
"""

from __future__ import annotations

import datetime as dt
import itertools
import json
import logging
import os
import queue
import random
import re
import threading
import time
import uuid
from pathlib import Path

from serving.contracts.errors import InputError
from serving.contracts.storage import SourceUri, parse_source_uri, storage_client
from serving.server import metrics
from serving.server.access_log import check_sample

log = logging.getLogger(__name__)

SCHEMA_VERSION = 1
MAX_RECORDS = 1000
MAX_AGE_S = 10.0
QUEUE_RECORDS = 10_000
_STOP = object()
_FILE_SEQ = itertools.count()  # per process, shared by every RequestLog


class RequestLog:
    """Samples predict requests and writes them to `destination` from a background thread."""

    def __init__(
        self,
        destination: str,
        sample: float,
        *,
        max_records: int = MAX_RECORDS,
        max_age_s: float = MAX_AGE_S,
        queue_records: int = QUEUE_RECORDS,
        rng: random.Random | None = None,
    ) -> None:
        self.sample = check_sample("request log sample", sample)
        if not isinstance(max_records, int) or max_records < 1:
            raise InputError(f"max_records={max_records!r} must be a whole number, 1 or more.")
        if not max_age_s > 0:
            raise InputError(f"max_age_s={max_age_s!r} must be a number of seconds above 0.")
        if not isinstance(queue_records, int) or queue_records < 1:
            raise InputError(f"queue_records={queue_records!r} must be a whole number, 1 or more.")
        self.destination = destination
        self.sink = open_sink(destination)
        self.max_records = max_records
        self.max_age_s = float(max_age_s)
        self.rng = rng or random.Random()
        self._queue: queue.Queue = queue.Queue(queue_records)
        self._closed = False
        self._problems: set[str] = set()
        self._thread = threading.Thread(target=self._run, name="request-log", daemon=True)
        self._thread.start()

    def record(
        self,
        model: str,
        version: str,
        deployed_model_id: str,
        instances: list,
        predictions: list,
    ) -> None:
        """Keep one request if sampled: queued at once, or dropped and counted if the queue
        is full. The lists are serialized later, by the writer: do not change them after."""
        try:
            if not self.rng.random() < self.sample:
                return
            if self._closed:
                metrics.request_log_dropped()
                return
            self._queue.put_nowait(
                {
                    "schema_version": SCHEMA_VERSION,
                    "logging_time": dt.datetime.now(dt.UTC).isoformat(),
                    "request_id": uuid.uuid4().hex,
                    "model": model,
                    "model_version": str(version),
                    "deployed_model_id": deployed_model_id,
                    "instances": instances,
                    "predictions": predictions,
                }
            )
        except queue.Full:
            metrics.request_log_dropped()
        except Exception as exc:  # never into the request path
            self._problem("queue", f"a record could not be queued ({exc})", 1)

    def close(self, timeout_s: float = 10.0) -> bool:
        """Write what is queued and stop; True if that finished within `timeout_s`."""
        if not self._closed:
            self._closed = True
            try:
                self._queue.put(_STOP, timeout=timeout_s)
            except queue.Full:
                return False
        self._thread.join(timeout_s)
        return not self._thread.is_alive()

    def _run(self) -> None:
        lines: list[str] = []
        opened = 0.0
        stopping = False  # after close(): write what is queued, then end
        while True:
            if stopping or not lines:
                wait = 0.0 if stopping else None
            else:
                wait = max(0.0, opened + self.max_age_s - time.monotonic())
            try:
                item = self._queue.get(timeout=wait)
            except queue.Empty:
                item = None
            if item is _STOP:
                stopping = True
            elif item is not None and (line := self._line(item)) is not None:
                if not lines:
                    opened = time.monotonic()
                lines.append(line)
            done = stopping and item is None
            aged = time.monotonic() - opened >= self.max_age_s
            if lines and (done or aged or len(lines) >= self.max_records):
                self._write(lines)
                lines = []
            if done:
                return

    def _line(self, record: dict) -> str | None:
        try:
            return json.dumps(record, ensure_ascii=False, allow_nan=False)
        except Exception as exc:
            problem = f"a record of model {record['model']!r} is not JSON ({exc})"
            self._problem(f"json {type(exc).__name__}", problem, 1)
            return None

    def _write(self, lines: list[str]) -> None:
        stamp = dt.datetime.now(dt.UTC).strftime("%Y%m%dT%H%M%S")
        data = ("\n".join(lines) + "\n").encode("utf-8")
        try:
            while not self.sink.put(
                f"requests-{stamp}-{os.getpid()}-{next(_FILE_SEQ)}.jsonl", data
            ):
                pass  # the name was taken: the next seq
        except Exception as exc:
            # One kind of failure is one problem, whichever file it hit.
            kind = (
                f"write {type(exc).__name__} {getattr(exc, 'errno', '')}{getattr(exc, 'code', '')}"
            )
            self._problem(
                kind, f"writing to {self.destination} failed ({_first_line(exc)})", len(lines)
            )

    def _problem(self, kind: str, problem: str, dropped: int) -> None:
        metrics.request_log_dropped(dropped)
        if kind not in self._problems:
            self._problems.add(kind)
            log.error("Request log records are dropped: %s (logged once)", problem)


def _first_line(exc: Exception) -> str:
    text = str(exc).strip() or type(exc).__name__
    return text.splitlines()[0]


def open_sink(destination: str) -> LocalSink | GcsSink:
    """Where files go, checked now: an InputError names a destination that cannot be used."""
    try:
        target = parse_source_uri(destination)
    except InputError as exc:
        raise InputError(f"Request log destination: {exc}") from None
    return GcsSink(target) if target.scheme == "gs" else LocalSink(Path(target.path))


class LocalSink:
    """Files in a local directory, each written under a hidden name and then renamed."""

    def __init__(self, directory: Path) -> None:
        self.directory = directory.expanduser()
        if self.directory.exists() and not self.directory.is_dir():
            raise InputError(
                f"Request log destination {str(directory)!r} is a file: give a directory "
                "(it is created if missing) or gs://bucket/prefix."
            )
        try:
            self.directory.mkdir(parents=True, exist_ok=True)
            probe = self.directory / f".probe-{os.getpid()}-{uuid.uuid4().hex}"
            probe.write_bytes(b"")
            probe.unlink()
        except OSError as exc:
            raise InputError(
                f"Request log destination {str(directory)!r} cannot be written "
                f"({exc.strerror or exc}): give a writable directory or gs://bucket/prefix."
            ) from None

    def put(self, name: str, data: bytes) -> bool:
        """Write the file `name`; False (nothing written) if that name is taken."""
        final = self.directory / name
        if final.exists():
            return False
        temporary = self.directory / f".{name}.tmp"
        try:
            temporary.write_bytes(data)
            os.replace(temporary, final)
        finally:
            temporary.unlink(missing_ok=True)
        return True


class GcsSink:
    """Objects under gs://bucket/prefix, each uploaded whole (a reader sees all or nothing)."""

    UPLOAD_TIMEOUT_S = 30

    def __init__(self, target: SourceUri) -> None:
        from google.api_core import exceptions as gexc

        if not _BUCKET_NAME.fullmatch(target.bucket) or (
            "." not in target.bucket and len(target.bucket) > 63
        ):
            raise InputError(
                f"Request log destination {target.uri!r} has no valid bucket name "
                f"({target.bucket!r}): use gs://bucket/prefix with the bucket's name "
                "(lowercase letters, digits, '-', '_' and '.')."
            )
        if any(char in target.prefix for char in "\r\n#[]*?"):
            raise InputError(
                f"Request log destination {target.uri!r} has a prefix with a newline or one "
                "of #[]*?: give a plain gs://bucket/prefix."
            )
        self.prefix = f"{target.prefix}/" if target.prefix else ""
        self.bucket = storage_client().bucket(target.bucket)
        try:
            exists = self.bucket.exists(timeout=self.UPLOAD_TIMEOUT_S)
        except gexc.Forbidden:
            exists = True  # may only create objects: the first write will tell
        except Exception as exc:
            raise InputError(
                f"Request log destination {target.uri!r} cannot be reached "
                f"({_first_line(exc)}): check the network and credentials."
            ) from None
        if not exists:
            raise InputError(
                f"Request log destination {target.uri!r}: bucket {target.bucket!r} does not "
                "exist: create it (gcloud storage buckets create) or fix the name."
            )

    def put(self, name: str, data: bytes) -> bool:
        """Upload the object `name`; False (nothing written) if that name is taken."""
        from google.api_core import exceptions as gexc

        blob = self.bucket.blob(self.prefix + name)
        try:
            blob.upload_from_string(
                data,
                content_type="application/x-ndjson",
                if_generation_match=0,  # only if no object has that name
                timeout=self.UPLOAD_TIMEOUT_S,
            )
        except gexc.PreconditionFailed:
            return False
        return True


_BUCKET_NAME = re.compile(r"[a-z0-9][a-z0-9._-]{1,220}[a-z0-9]")
