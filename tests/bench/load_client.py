"""A closed-loop HTTP load generator, run as its own process against a server on 127.0.0.1.

    python -m tests.bench.load_client URL BODY_FILE --clients 8 --seconds 10 --out OUT.json

Each of `--clients` threads keeps one keep-alive connection and sends the
same POST body again as soon as the previous answer arrives. Written to OUT:
requests answered, errors, wall time, and every latency in seconds.
"""

from __future__ import annotations

import argparse
import contextlib
import http.client
import json
import threading
import time
from collections.abc import Callable, Iterator
from contextlib import AbstractContextManager
from pathlib import Path
from urllib.parse import urlparse


def closed_loop(
    clients: int, seconds: float, warm_up_s: float, connect: Callable[[], AbstractContextManager]
) -> dict:
    """Run `clients` threads, each with `connect()`'s sender (a callable answering whether
    its request succeeded) until the time is up; latencies count only requests that
    started after the warm-up."""
    start = time.perf_counter()
    measure_from, stop_at = start + warm_up_s, start + warm_up_s + seconds
    latencies: list[list[float]] = [[] for _ in range(clients)]
    errors = [0] * clients

    def client(index: int) -> None:
        with connect() as send:
            while (sent := time.perf_counter()) < stop_at:
                ok = send()
                if sent >= measure_from:
                    if ok:
                        latencies[index].append(time.perf_counter() - sent)
                    else:
                        errors[index] += 1

    threads = [threading.Thread(target=client, args=(i,)) for i in range(clients)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    return {
        "latencies": [x for per_client in latencies for x in per_client],
        "errors": sum(errors),
        "seconds": seconds,
    }


def load(url: str, body: bytes, clients: int, seconds: float, warm_up_s: float) -> dict:
    """POST `body` to `url` from `clients` keep-alive connections."""
    target = urlparse(url)
    headers = {"Content-Type": "application/json"}

    @contextlib.contextmanager
    def connect() -> Iterator[Callable[[], bool]]:
        connection = http.client.HTTPConnection(target.hostname, target.port, timeout=60)

        def send() -> bool:
            nonlocal connection
            try:
                connection.request("POST", target.path, body, headers)
                response = connection.getresponse()
                response.read()
                return response.status == 200
            except (OSError, http.client.HTTPException):
                connection.close()
                connection = http.client.HTTPConnection(target.hostname, target.port, timeout=60)
                return False

        try:
            yield send
        finally:
            connection.close()

    return closed_loop(clients, seconds, warm_up_s, connect)


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("url")
    parser.add_argument("body", type=Path)
    parser.add_argument("--clients", type=int, required=True)
    parser.add_argument("--seconds", type=float, required=True)
    parser.add_argument("--warm-up", type=float, default=1.0)
    parser.add_argument("--out", type=Path, required=True)
    args = parser.parse_args()
    result = load(args.url, args.body.read_bytes(), args.clients, args.seconds, args.warm_up)
    args.out.write_text(json.dumps(result))


if __name__ == "__main__":
    main()
