"""`python -m serving --workers 2`: two real processes on one port, under the supervisor."""

from __future__ import annotations

import os
import re
import signal
import subprocess
import sys
import tempfile
from pathlib import Path

from tests.conftest import REPO
from tests.serving.conftest import call, wait_ready
from trainer.launch import free_ports


def _workers(pid: int) -> set[int]:
    """The spawned worker processes of `pid` (not multiprocessing's resource tracker)."""
    found: set[int] = set()
    for task in Path(f"/proc/{pid}/task").iterdir():
        for child in (task / "children").read_text().split():
            if b"spawn_main" in Path(f"/proc/{child}/cmdline").read_bytes():
                found.add(int(child))
    return found


def test_two_workers_serve_sum_their_metrics_and_drain_on_sigterm(registry):
    port = free_ports(1)[0]
    args = ["--registry", str(registry.root), "--workers", "2", "--grpc-port", "0"]
    env = {**os.environ, "AIP_HTTP_PORT": str(port)}
    with tempfile.TemporaryFile("w+") as log:
        process = subprocess.Popen(
            [sys.executable, "-m", "serving", *args], cwd=REPO, env=env, stdout=log, stderr=log
        )
        try:
            base = f"http://127.0.0.1:{port}"
            wait_ready(base, timeout_s=120)
            before = _predicts(base)
            for _ in range(10):  # new connections: the kernel spreads them over the workers
                status, body = call(base, "/v1/models/scaler:predict", {"instances": [[1, 2, 3]]})
                assert status == 200 and body["predictions"][0]["total"] == 12.0  # champion 2
            assert _predicts(base) - before == 10  # summed over both workers' counts
            workers = _workers(process.pid)
            assert len(workers) == 2
            process.send_signal(signal.SIGTERM)
            assert process.wait(timeout=60) == 0
            assert not [pid for pid in workers if Path(f"/proc/{pid}").exists()]
        except BaseException:
            log.seek(0)
            print(log.read()[-5000:])
            raise
        finally:
            if process.poll() is None:
                process.kill()
                process.wait()


def _predicts(base: str) -> float:
    import urllib.request

    text = urllib.request.urlopen(f"{base}/metrics", timeout=10).read().decode()
    counts = re.findall(
        r'serving_requests_total\{code="200",model="scaler",route="predict"[^}]*\} (\S+)', text
    )
    return sum(float(count) for count in counts)
