"""An open-loop HTTP load generator: requests at a fixed rate, whether or not answers come.

    python -m tests.bench.open_loop_client URL BODY_FILE --rate 2000 --seconds 5 --out OUT.json

A closed loop (load_client.py) slows down with the server, so it cannot offer more
than the server takes; overload needs arrivals that do not wait for answers, as a
crowd of independent clients sends them. Requests leave on a fixed schedule (`rate`
per second) on keep-alive connections: an idle one if there is one, else a new one,
up to --max-connections (a request due when all are busy is counted as not sent).
Written to OUT: requests sent and answered by status, the latencies of the 200s,
requests with no answer within --timeout, and the rate actually offered.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import time
from collections import Counter
from pathlib import Path
from urllib.parse import urlparse


class _Connection:
    """One keep-alive HTTP/1.1 connection: send a POST, read the status and the body."""

    def __init__(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        self.reader, self.writer = reader, writer

    async def post(self, request: bytes) -> tuple[int, bool]:
        """(status, whether the connection can be used again)."""
        self.writer.write(request)
        head = await self.reader.readuntil(b"\r\n\r\n")
        lines = head.decode("latin-1").split("\r\n")
        status = int(lines[0].split()[1])
        headers = dict(line.lower().split(": ", 1) for line in lines[1:] if ": " in line)
        await self.reader.readexactly(int(headers.get("content-length", "0")))
        return status, headers.get("connection", "") != "close"

    def close(self) -> None:
        self.writer.close()


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
    idle: list[_Connection] = []
    open_count = 0
    statuses: Counter[str] = Counter()
    latencies: list[float] = []
    not_sent = 0
    tasks: set[asyncio.Task] = set()

    async def send(measured: bool) -> None:
        nonlocal open_count
        sent = time.perf_counter()
        connection = idle.pop() if idle else None
        try:
            if connection is None:
                open_count += 1
                connection = _Connection(
                    *await asyncio.open_connection(target.hostname, target.port)
                )
            status, reusable = await asyncio.wait_for(connection.post(request), timeout_s)
        except (TimeoutError, OSError, asyncio.IncompleteReadError, ValueError) as exc:
            if connection is not None:
                connection.close()
            open_count -= 1
            if measured:
                statuses["timeout" if isinstance(exc, asyncio.TimeoutError) else "error"] += 1
            return
        if reusable:
            idle.append(connection)
        else:
            connection.close()
            open_count -= 1
        if measured:
            statuses[str(status)] += 1
            if status == 200:
                latencies.append(time.perf_counter() - sent)

    start = time.perf_counter()
    total = int(rate * (warm_up_s + seconds))
    measured_from = int(rate * warm_up_s)
    for index in range(total):
        delay = start + index / rate - time.perf_counter()
        if delay > 0:
            await asyncio.sleep(delay)
        if not idle and open_count >= max_connections:
            not_sent += index >= measured_from
            continue
        task = asyncio.create_task(send(index >= measured_from))
        tasks.add(task)
        task.add_done_callback(tasks.discard)
    elapsed = time.perf_counter() - start
    if tasks:
        await asyncio.wait(set(tasks), timeout=timeout_s + 5)
    for connection in idle:
        connection.close()
    return {
        "offered_per_s": (total - measured_from) / max(elapsed - warm_up_s, 1e-9),
        "statuses": dict(statuses),
        "not_sent": not_sent,
        "latencies": latencies,
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
