"""model.fit and the custom loop agree under the default, Mirrored and MultiWorker strategies.

The seeded problem is tests/trainer/distribution/equivalence_job.py. MirroredStrategy runs
over two logical CPU devices (set up before TensorFlow starts, so in its own
process); MultiWorkerMirroredStrategy runs as two real worker processes
started by trainer.launch.
"""

import json
import os
import subprocess
import sys

import numpy as np
import pytest

from tests.conftest import REPO
from tests.trainer.distribution.equivalence_job import train_both
from trainer.distribution.strategy import distribution_for
from trainer.launch import launch

TOLERANCE = 1e-5  # float32 sums in another order


@pytest.fixture(scope="module")
def reference() -> dict:
    """Both styles under the default strategy, in this process."""
    return train_both(distribution_for("default"))


def _assert_same_weights(result: dict, reference: dict) -> None:
    for style in ("fit", "custom"):
        assert np.allclose(result[style], reference["fit"], atol=TOLERANCE), style


def test_fit_and_the_custom_loop_agree_on_one_device(reference):
    assert reference["replicas"] == 1
    _assert_same_weights(reference, reference)


def test_mirrored_strategy_over_two_devices_gives_the_same_weights(reference, tmp_path):
    out = tmp_path / "mirrored.json"
    args = [str(out), "--strategy", "mirrored", "--logical-cpus", "2"]
    env = {**os.environ, "TF_CPP_MIN_LOG_LEVEL": "2"}
    done = subprocess.run(
        [sys.executable, "-m", "tests.trainer.distribution.equivalence_job", *args],
        cwd=REPO,
        env=env,
        capture_output=True,
        text=True,
        timeout=300,
    )
    assert done.returncode == 0, done.stderr[-3000:]
    result = json.loads(out.read_text())
    assert (result["kind"], result["replicas"]) == ("mirrored", 2)
    _assert_same_weights(result, reference)


def test_two_worker_processes_give_the_same_weights(reference, tmp_path, capsys):
    out = tmp_path / "multi_worker.json"
    launch(2, [str(out)], module="tests.trainer.distribution.equivalence_job", timeout_s=300)
    result = json.loads(out.read_text())
    assert (result["kind"], result["replicas"]) == ("multi_worker", 2)
    _assert_same_weights(result, reference)
    log = capsys.readouterr().out
    assert "[worker 1]" in log and "all 2 workers finished" in log
