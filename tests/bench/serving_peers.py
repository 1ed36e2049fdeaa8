"""The servers benchmark 9 starts: the project's, and its peers in their own venvs.

Each is a process on 127.0.0.1 for the length of a `with` block; the block gets its
pid once the server answers. KServe and BentoML pin packages below this project's
lock, so each runs from a venv of its own under build/bench/, made once from its
requirements file.
"""

from __future__ import annotations

import os
import subprocess
import sys
import time
import urllib.request
from pathlib import Path

from tests.bench.data import REPO

READY_TIMEOUT_S = 180
BENCH = REPO / "tests" / "bench"


class Server:
    """A server process until the block ends; yields its pid once `ready_url` answers 200."""

    def __init__(self, command: list[str], ready_url: str, env: dict | None = None) -> None:
        self.command, self.ready_url, self.env = command, ready_url, env or {}

    def __enter__(self) -> int:
        env = {**os.environ, "TF_CPP_MIN_LOG_LEVEL": "3", **self.env}
        self.process = subprocess.Popen(
            self.command, cwd=REPO, env=env, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL
        )
        deadline = time.monotonic() + READY_TIMEOUT_S
        while time.monotonic() < deadline:
            if self.process.poll() is not None:
                raise RuntimeError(
                    f"{' '.join(self.command)} exited with {self.process.returncode}"
                )
            try:
                with urllib.request.urlopen(self.ready_url, timeout=5):
                    return self.process.pid
            except OSError:
                time.sleep(0.2)
        self.__exit__()
        raise RuntimeError(f"{' '.join(self.command)} was not ready within {READY_TIMEOUT_S} s")

    def __exit__(self, *exc: object) -> None:
        self.process.terminate()
        try:
            self.process.wait(timeout=30)
        except subprocess.TimeoutExpired:
            self.process.kill()
            self.process.wait()


def ours(registry: Path, port: int, flags: list[str]) -> Server:
    command = [sys.executable, "-m", "serving", "--registry", str(registry), "--port", str(port)]
    return Server([*command, "--poll-seconds", "0", *flags], f"http://127.0.0.1:{port}/health")


def kserve(python: Path, registry: Path, port: int, workers: int) -> Server:
    command = [str(python), str(BENCH / "kserve_server.py"), "--port", str(port)]
    command += ["--workers", str(workers)]
    for name in ("vision", "text"):
        command += ["--model", f"{name}={registry / name / 'versions' / '1'}"]
    return Server(command, f"http://127.0.0.1:{port}/v1/models/text")


def bentoml(python: Path, registry: Path, port: int, workers: int) -> Server:
    bentoml_cli = python.parent / "bentoml"
    command = [str(bentoml_cli), "serve", "bentoml_service:SavedModels", "--working-dir"]
    command += [str(BENCH), "--host", "127.0.0.1", "--port", str(port)]
    env = {
        "BENCH_WORKERS": str(workers),
        "BENCH_VISION_DIR": str(registry / "vision" / "versions" / "1"),
        "BENCH_TEXT_DIR": str(registry / "text" / "versions" / "1"),
        "BENTOML_HOME": str(REPO / "build" / "bench" / "bentoml-home"),
    }
    return Server(command, f"http://127.0.0.1:{port}/readyz", env)


def peer_python(name: str) -> tuple[Path | None, str]:
    """The python of build/bench/<name>-venv with tests/bench/<name>-requirements.txt
    installed (made once); (None, why) when pip cannot install them."""
    requirements = BENCH / f"{name}-requirements.txt"
    venv = REPO / "build" / "bench" / f"{name}-venv"
    python, stamp = venv / "bin" / "python", venv / ".installed"
    wanted = requirements.read_text()
    if stamp.is_file() and stamp.read_text() == wanted:
        return python, ""
    print(f"[serving_load] installing {requirements.name} into {venv} (once)", flush=True)
    try:
        subprocess.run([sys.executable, "-m", "venv", str(venv)], check=True, timeout=300)
        subprocess.run(
            [str(python), "-m", "pip", "install", "--quiet", "-r", str(requirements)],
            check=True,
            timeout=1800,
            capture_output=True,
            text=True,
        )
    except (subprocess.CalledProcessError, subprocess.TimeoutExpired) as exc:
        detail = getattr(exc, "stderr", "") or ""
        return None, f"pip install -r {requirements.name} failed: {detail.strip()[-300:]}"
    stamp.write_text(wanted)
    return python, ""
