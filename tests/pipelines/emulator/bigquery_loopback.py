"""The BigQuery emulator on a test warehouse, served on loopback for the real client.

Nothing is mocked: the emulator's `handle` is mounted on a loopback HTTP server
(a few lines here stand in for the emulator's REST server) and the unmodified
client (3.47, anonymous credentials, api_endpoint) sends its own requests. The
warehouse is the demo's DuckDB file plus a small table of every supported type
(TYPED, whose rows as the client reads them are TYPED_ROWS); the fixtures are in
conftest.py.
"""

from __future__ import annotations

import contextlib
import datetime as dt
import decimal
import json
from collections.abc import Iterator
from http.server import BaseHTTPRequestHandler
from urllib.parse import parse_qs, urlparse

import pyarrow as pa

from pipelines.emulator.bigquery.service import BigQueryEmulator
from tests.fakes.loopback import serving_on_loopback

PROJECT = "mlops-demo"
PAGE_ROWS = 500  # the demo query's 1,461 rows come in 3 pages
UTC = dt.UTC
TYPED = """CREATE TABLE sample.typed AS SELECT * FROM (VALUES
  (1, -4611686018427387904, 2.5, 1.250000001::DECIMAL(38, 9), 'é', true, DATE '2024-02-29',
   TIMESTAMP '2024-02-29 12:34:56.789012', TIMESTAMPTZ '2024-02-29 12:34:56.000001+00',
   TIME '23:59:59.5', '\\x00\\xff'::BLOB, [1, 2], {'a': 7, 'b': 'x'}),
  (2, NULL, NULL, NULL, NULL, NULL, NULL, NULL, NULL, NULL, NULL, NULL, NULL),
  (3, 0, 'NaN'::DOUBLE, -0.000000001::DECIMAL(38, 9), '', false, DATE '1969-12-31',
   TIMESTAMP '1969-12-31 23:59:59', TIMESTAMPTZ '1969-12-31 23:59:59.999999+00',
   TIME '00:00:00', ''::BLOB, [], {'a': NULL, 'b': NULL})
) AS t(id, big, f, num, s, flag, day, local_time, ts, tod, raw, ints, rec)"""
TYPED_ROWS = [
    {
        "id": 1,
        "big": -(2**62),
        "f": 2.5,
        "num": decimal.Decimal("1.250000001"),
        "s": "é",
        "flag": True,
        "day": dt.date(2024, 2, 29),
        "local_time": dt.datetime(2024, 2, 29, 12, 34, 56, 789012),
        "ts": dt.datetime(2024, 2, 29, 12, 34, 56, 1, tzinfo=UTC),
        "tod": dt.time(23, 59, 59, 500000),
        "raw": b"\x00\xff",
        "ints": [1, 2],
        "rec": {"a": 7, "b": "x"},
    },
    {
        "id": 2,
        **dict.fromkeys(
            ["big", "f", "num", "s", "flag", "day", "local_time", "ts", "tod", "raw", "rec"]
        ),
        "ints": [],  # BigQuery returns a NULL array as an empty one
    },
    {
        "id": 3,
        "big": 0,
        "f": float("nan"),
        "num": decimal.Decimal("-0.000000001"),
        "s": "",
        "flag": False,
        "day": dt.date(1969, 12, 31),
        "local_time": dt.datetime(1969, 12, 31, 23, 59, 59),
        "ts": dt.datetime(1969, 12, 31, 23, 59, 59, 999999, tzinfo=UTC),
        "tod": dt.time(0, 0),
        "raw": b"",
        "ints": [],
        "rec": {"a": None, "b": None},
    },
]


@contextlib.contextmanager
def serving(emulator: BigQueryEmulator) -> Iterator[str]:
    """`emulator.handle` behind a loopback HTTP server, as the emulator's REST server mounts it."""

    class Handler(BaseHTTPRequestHandler):
        timeout = 10

        def log_message(self, *args) -> None:
            pass

        def _serve(self) -> None:
            url = urlparse(self.path)
            query = {k: v[0] for k, v in parse_qs(url.query).items()}
            body = self.rfile.read(int(self.headers.get("Content-Length") or 0))
            answer = emulator.handle(self.command, url.path, query, self.headers, body)
            status, headers, data = answer or (404, {}, b"")
            self.send_response(status)
            for name, value in headers.items():
                self.send_header(name, value)
            self.send_header("Content-Length", str(len(data)))
            self.end_headers()
            self.wfile.write(data)

        do_GET = do_POST = _serve

    with serving_on_loopback(Handler) as url:
        try:
            yield url
        finally:
            emulator.close()


def to_arrow(rows) -> pa.Table:
    """The rows the client got, as Arrow (without the BigQuery Storage API)."""
    return rows.to_arrow(create_bqstorage_client=False)


def calls(emulator: BigQueryEmulator, method: str, suffix: str) -> list:
    """The requests the emulator got for `method` on a path ending with `suffix`."""
    return [r for r in emulator.requests if r.method == method and r.path.endswith(suffix)]


def call(emulator: BigQueryEmulator, method: str, path: str, query=None, body=None) -> tuple:
    """One REST call straight to `handle`: its status and JSON answer."""
    data = json.dumps(body).encode() if body is not None else b""
    status, _, answer = emulator.handle(method, f"/bigquery/v2/{path}", query or {}, {}, data)
    return status, json.loads(answer)
