"""A closed-loop HTTP load generator, run as its own process against a server on 127.0.0.1.

    python -m tests.bench.load_client URL BODY_FILE --clients 8 --seconds 10 --out OUT.json

Each of `--clients` threads keeps one keep-alive connection and sends the
same POST body again as soon as the previous answer arrives. Written to OUT:
requests answered, errors, wall time, and every latency in seconds.
"""

from __future__ import annotations

import argparse
import http.client
import json
import threading
import time
from pathlib import Path
from urllib.parse import urlparse


def load(url: str, body: bytes, clients: int, seconds: float, warm_up_s: float) -> dict:
    """Run the load; latencies count only requests that started after the warm-up."""
    target = urlparse(url)
    start = time.perf_counter()
    measure_from, stop_at = start + warm_up_s, start + warm_up_s + seconds
    latencies: list[list[float]] = [[] for _ in range(clients)]
    errors = [0] * clients

    def client(index: int) -> None:
        connection = http.client.HTTPConnection(target.hostname, target.port, timeout=60)
        headers = {"Content-Type": "application/json"}
        while (sent := time.perf_counter()) < stop_at:
            try:
                connection.request("POST", target.path, body, headers)
                response = connection.getresponse()
                response.read()
                ok = response.status == 200
            except (OSError, http.client.HTTPException):
                connection.close()
                connection = http.client.HTTPConnection(target.hostname, target.port, timeout=60)
                ok = False
            if sent >= measure_from:
                if ok:
                    latencies[index].append(time.perf_counter() - sent)
                else:
                    errors[index] += 1
        connection.close()

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
