"""An open-loop HTTP load generator: requests at a fixed rate, whether or not answers come.

    python -m tests.bench.open_loop_client URL BODY_FILE --rate 2000 --seconds 5 --out OUT.json

A closed loop (load_client.py) slows down with the server, so it cannot offer more
than the server takes; overload needs arrivals that do not wait for answers, as a
crowd of independent clients sends them. Every millisecond the requests then due
leave on keep-alive connections: an idle one if there is one, else a new one, up
to --max-connections (a request due when all are busy is counted as not sent).
Written to OUT: requests sent and answered by status, the latencies of the 200s
(from the moment each was sent), requests with no answer within --timeout, and
the rate actually offered.

The generator shares the machine with the server, so it must cost little per
request, or its own delays would be measured as the server's: connections are
asyncio Protocols on uvloop parsing answers from their buffers, with one timeout
sweep for all of them, rather than streams and a task per request (which could
not offer more than about 5,000 requests/s on a core).
"""

from __future__ import annotations

import argparse
import asyncio
import json
import time
from collections import Counter
from pathlib import Path
from urllib.parse import urlparse

TICK_S = 0.001
SWEEP_S = 0.1


class _Load:
    """The requests in progress, the idle connections and what was counted."""

    def __init__(self, request: bytes, max_connections: int, timeout_s: float) -> None:
        self.request, self.max_connections, self.timeout_s = request, max_connections, timeout_s
        self.idle: list[_Connection] = []
        self.busy: set[_Connection] = set()
        self.opening = 0
        self.statuses: Counter[str] = Counter()
        self.latencies: list[float] = []
        self.not_sent = 0
        self.sent = 0
        self.connecting: set[asyncio.Task] = set()

    @property
    def open_count(self) -> int:
        return len(self.idle) + len(self.busy) + self.opening

    def send(self, measured: bool, connect) -> None:
        if self.idle:
            self.idle.pop().send(measured)
        elif self.open_count < self.max_connections:
            self.opening += 1
            task = asyncio.ensure_future(self._open(measured, connect))
            self.connecting.add(task)
            task.add_done_callback(self.connecting.discard)
        else:
            self.not_sent += measured
            return
        self.sent += measured

    async def _open(self, measured: bool, connect) -> None:
        sent = time.perf_counter()
        try:
            _, connection = await asyncio.wait_for(
                connect(lambda: _Connection(self)), self.timeout_s
            )
        except (TimeoutError, OSError) as exc:
            if measured:
                self.statuses["timeout" if isinstance(exc, TimeoutError) else "error"] += 1
            return
        finally:
            self.opening -= 1
        connection.send(measured, sent)

    def answered(self, connection: _Connection, status: int, reusable: bool) -> None:
        if connection.measured:
            self.statuses[str(status)] += 1
            if status == 200:
                self.latencies.append(time.perf_counter() - connection.sent)
        self.busy.discard(connection)
        if reusable:
            self.idle.append(connection)
        else:
            connection.transport.close()

    def lost(self, connection: _Connection, timed_out: bool) -> None:
        if connection in self.busy and connection.measured:
            self.statuses["timeout" if timed_out else "error"] += 1
        self.busy.discard(connection)
        if connection in self.idle:
            self.idle.remove(connection)

    def sweep(self) -> None:
        """Close the connections whose request has waited past the timeout."""
        too_old = time.perf_counter() - self.timeout_s
        for connection in [c for c in self.busy if c.sent < too_old]:
            self.lost(connection, timed_out=True)
            connection.transport.close()


class _Connection(asyncio.Protocol):
    """One keep-alive HTTP/1.1 connection: one request at a time, its answer parsed as it comes."""

    def __init__(self, load: _Load) -> None:
        self.load, self.buffer = load, bytearray()
        self.sent, self.measured = 0.0, False

    def connection_made(self, transport: asyncio.Transport) -> None:
        self.transport = transport

    def send(self, measured: bool, sent: float | None = None) -> None:
        self.sent, self.measured = sent or time.perf_counter(), measured
        self.load.busy.add(self)
        self.transport.write(self.load.request)

    def data_received(self, data: bytes) -> None:
        self.buffer += data
        end = self.buffer.find(b"\r\n\r\n")
        if end < 0:
            return
        head = bytes(self.buffer[:end]).lower()
        length = _content_length(head)
        if len(self.buffer) < end + 4 + length:
            return
        del self.buffer[: end + 4 + length]
        self.load.answered(self, int(head[9:12]), b"connection: close" not in head)

    def connection_lost(self, exc: Exception | None) -> None:
        self.load.lost(self, timed_out=False)


def _content_length(head: bytes) -> int:
    for line in head.split(b"\r\n"):
        if line.startswith(b"content-length:"):
            return int(line[15:])
    return 0


async def offer(
    url: str,
    body: bytes,
    rate: float,
    seconds: float,
    warm_up_s: float,
    timeout_s: float,
    max_connections: int,
) -> dict:
    """Send `rate` requests/s for warm_up_s + seconds; count those sent after the warm-up."""
    target = urlparse(url)
    request = (
        f"POST {target.path} HTTP/1.1\r\nHost: {target.hostname}:{target.port}\r\n"
        f"Content-Type: application/json\r\nContent-Length: {len(body)}\r\n\r\n"
    ).encode() + body
    loop = asyncio.get_running_loop()
    load = _Load(request, max_connections, timeout_s)

    def connect(protocol):
        return loop.create_connection(protocol, target.hostname, target.port)

    start = time.perf_counter()
    total, measured_from = int(rate * (warm_up_s + seconds)), int(rate * warm_up_s)
    index, next_sweep = 0, start + SWEEP_S
    while index < total:
        now = time.perf_counter()
        due = min(total, int((now - start) * rate) + 1)
        while index < due:
            load.send(index >= measured_from, connect)
            index += 1
        if now >= next_sweep:
            load.sweep()
            next_sweep = now + SWEEP_S
        await asyncio.sleep(TICK_S)
    measured_s = time.perf_counter() - start - warm_up_s
    finish_by = time.perf_counter() + timeout_s + 1
    while (load.busy or load.opening) and time.perf_counter() < finish_by:
        load.sweep()
        await asyncio.sleep(SWEEP_S)
    for connection in [*load.idle, *load.busy]:
        connection.transport.close()
    return {
        "offered_per_s": load.sent / max(measured_s, 1e-9),
        "statuses": dict(load.statuses),
        "not_sent": load.not_sent,
        "latencies": load.latencies,
        "seconds": seconds,
    }


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("url")
    parser.add_argument("body", type=Path)
    parser.add_argument("--rate", type=float, required=True, help="requests per second")
    parser.add_argument("--seconds", type=float, required=True)
    parser.add_argument("--warm-up", type=float, default=1.0)
    parser.add_argument("--timeout", type=float, default=30.0)
    parser.add_argument("--max-connections", type=int, default=1024)
    parser.add_argument("--out", type=Path, required=True)
    args = parser.parse_args()
    import uvloop  # the project's server runs on it too: a faster loop offers more load

    result = uvloop.run(
        offer(
            args.url,
            args.body.read_bytes(),
            args.rate,
            args.seconds,
            args.warm_up,
            args.timeout,
            args.max_connections,
        )
    )
    args.out.write_text(json.dumps(result))


if __name__ == "__main__":
    main()
