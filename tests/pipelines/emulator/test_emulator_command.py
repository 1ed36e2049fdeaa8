"""`make emulator`: the service alone, and the env.sh that points an unmodified client at it.

The client is the aiplatform SDK with no endpoint, transport or credentials
given, in a shell that sourced env.sh: it reaches the emulator through the
proxy with the metadata server's token, as GCPC's launchers do in steps.
"""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time

from tests.conftest import REPO

CLIENT = """
from google.cloud import aiplatform
aiplatform.init()
endpoint = aiplatform.Endpoint.create(display_name="from-env-sh")
print("created", endpoint.resource_name, [e.display_name for e in aiplatform.Endpoint.list()])
"""


def test_env_sh_points_an_unmodified_sdk_at_the_emulator(tmp_path):
    home = tmp_path / "emulator"
    env_file = home / "env.sh"
    emulator = subprocess.Popen(
        [sys.executable, "-m", "pipelines", "emulator", f"--home={home}"],
        cwd=REPO, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True,
        env={**os.environ, "GOOGLE_APPLICATION_CREDENTIALS": "/nonexistent/key.json"},
    )  # fmt: skip
    try:
        deadline = time.monotonic() + 60
        while not env_file.exists() and emulator.poll() is None and time.monotonic() < deadline:
            time.sleep(0.2)
        assert env_file.exists(), "make emulator wrote no env.sh"
        # A credentials file in the user's shell would win over the metadata server: unset.
        assert "unset GOOGLE_APPLICATION_CREDENTIALS" in env_file.read_text()
        client = subprocess.run(
            ["bash", "-c", f"source {env_file} && {sys.executable} -c '{CLIENT}'"],
            cwd=REPO, capture_output=True, text=True, timeout=120,
            env={**os.environ, "GOOGLE_APPLICATION_CREDENTIALS": "/nonexistent/key.json"},
        )  # fmt: skip
        assert client.returncode == 0, client.stdout[-2000:] + client.stderr[-2000:]
        assert "created projects/emulator-project/locations/us-central1/endpoints/" in client.stdout
        assert "'from-env-sh'" in client.stdout
    finally:
        # SIGTERM, as `kill` sends: a job started with `&` in a script ignores Ctrl-C's SIGINT.
        emulator.send_signal(signal.SIGTERM)
        output, _ = emulator.communicate(timeout=60)
    assert emulator.returncode == 0, output[-2000:]
    assert "Stopped." in output
    assert not env_file.exists()  # its ports are gone with the emulator
