"""trainer.launch: TF_CONFIG per worker, prefixed logs, fail fast, ports, exit codes."""

import io
import os
import socket
import subprocess
import sys
import time

import pytest

from tests.conftest import REPO
from trainer.launch import LaunchError, launch

STUB = "tests.trainer.distribution.stub_worker"


def test_each_worker_gets_its_index_and_every_address():
    out = io.StringIO()
    launch(3, ["ports", "ok", "ok"], module=STUB, timeout_s=60, output=out)
    log = out.getvalue()
    for index in range(3):
        assert f"[worker {index}] index {index} doing" in log
    addresses = next(
        line for line in log.splitlines() if "127.0.0.1:" in line and "[worker 0]" in line
    )
    assert len(set(addresses.split()[2:])) == 3  # three distinct 127.0.0.1 ports
    assert log.strip().endswith("all 3 workers finished")


def test_a_failing_worker_stops_the_others_at_once():
    out = io.StringIO()
    started = time.monotonic()
    with pytest.raises(LaunchError, match=r"worker 1 \(pid \d+\) exited with code 3; stopped"):
        launch(2, ["hang", "fail"], module=STUB, timeout_s=100, output=out)
    assert time.monotonic() - started < 30  # not the 120 s worker 0 would sleep
    pid = int(out.getvalue().split("worker 0: pid ")[1].split(",")[0])
    with pytest.raises(ProcessLookupError):
        os.kill(pid, 0)  # worker 0 was stopped and reaped


def test_a_taken_port_is_named_before_anything_starts():
    with socket.socket() as busy:
        busy.bind(("127.0.0.1", 0))
        busy.listen()
        port = busy.getsockname()[1]
        out = io.StringIO()
        with pytest.raises(LaunchError, match=f"port {port} on 127.0.0.1 is taken"):
            launch(2, ["ok", "ok"], module=STUB, ports=[port, port + 1], output=out)
        assert "pid" not in out.getvalue()  # no worker was started


def test_a_job_past_its_timeout_is_stopped():
    with pytest.raises(LaunchError, match="did not finish within 1 s"):
        launch(1, ["hang"], module=STUB, timeout_s=1, output=io.StringIO())


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (["--workers", "0", "--", "x"], "--workers must be at least 1"),
        (["--workers", "2", "--ports", "1", "--", "x"], "--ports lists 1 ports for 2 workers"),
        (["--workers", "2", "--ports", "a,b", "--", "x"], "is not a comma-separated list"),
    ],
)
def test_the_command_line_refuses_bad_settings_in_one_line(args, message):
    done = subprocess.run(
        [sys.executable, "-m", "trainer.launch", *args],
        cwd=REPO,
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert done.returncode != 0
    assert message in done.stderr.strip().splitlines()[-1]
