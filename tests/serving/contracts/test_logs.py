"""The one logging set-up: plain lines on a terminal, Cloud Logging's JSON on Vertex AI."""

import json
import logging
import subprocess
import sys

import pytest

from serving.contracts.logs import CloudLoggingFormatter, log_format
from tests.conftest import REPO

_LOG_A_LINE = (
    "import logging; from serving.contracts.logs import setup_logging; setup_logging(); "
    "logging.getLogger('trainer.demo').warning('%d images skipped', 3)"
)
# What kfp's executor (python -m kfp.dsl.executor_main) does before it runs a component.
_AS_A_COMPONENT = "from kfp.dsl.executor_main import _setup_logging; _setup_logging(); "


def _output_of_a_process(env: dict, prelude: str = "") -> str:
    result = subprocess.run(
        [sys.executable, "-c", prelude + _LOG_A_LINE],
        cwd=REPO,
        env={"PATH": "/usr/bin:/bin", **env},
        capture_output=True,
        text=True,
        timeout=60,
        check=True,
    )
    return (result.stdout + result.stderr).strip()


@pytest.mark.parametrize(
    ("env", "expected"),
    [
        ({}, "plain"),
        ({"CLOUD_ML_JOB_ID": "123"}, "json"),  # a Vertex AI training replica or pipeline step
        ({"AIP_DEPLOYED_MODEL_ID": "456"}, "json"),  # a Vertex AI prediction container
        ({"CLOUD_ML_JOB_ID": "123", "LOG_FORMAT": "plain"}, "plain"),
        ({"LOG_FORMAT": " JSON "}, "json"),
    ],
)
def test_the_format_follows_the_environment(env, expected):
    assert log_format(env) == expected


def test_an_unknown_log_format_is_refused_by_name():
    with pytest.raises(SystemExit, match=r"LOG_FORMAT='yaml' is not one of json, plain"):
        log_format({"LOG_FORMAT": "yaml"})


def test_a_vertex_process_writes_one_json_entry_that_cloud_logging_reads():
    [line] = _output_of_a_process({"CLOUD_ML_JOB_ID": "123"}).splitlines()
    entry = json.loads(line)
    assert entry["severity"] == "WARNING"
    assert entry["message"] == "3 images skipped"
    assert entry["logger"] == "trainer.demo"
    assert entry["time"].endswith("+00:00")
    assert entry["logging.googleapis.com/sourceLocation"]["line"] == "1"


def test_a_terminal_process_writes_a_plain_line():
    assert _output_of_a_process({}) == "WARNING trainer.demo: 3 images skipped"


def test_a_component_step_on_vertex_logs_json_in_place_of_kfps_format():
    [line] = _output_of_a_process({"CLOUD_ML_JOB_ID": "123"}, _AS_A_COMPONENT).splitlines()
    assert json.loads(line)["message"] == "3 images skipped"


def test_a_handler_someone_else_installed_is_left_alone():
    probe = (
        "import logging; h = logging.FileHandler('/dev/null'); "
        "logging.getLogger().addHandler(h); "
        "from serving.contracts.logs import setup_logging; setup_logging(); "
        "print(logging.getLogger().handlers == [h])"
    )
    result = subprocess.run(
        [sys.executable, "-c", probe], cwd=REPO, capture_output=True, text=True, timeout=60
    )
    assert result.stdout.strip() == "True", result.stderr


def test_a_traceback_stays_inside_its_json_entry():
    logger = logging.getLogger("tests.logs")
    try:
        raise ValueError("bad row")
    except ValueError:
        record = logger.makeRecord(
            logger.name, logging.ERROR, __file__, 1, "ingest failed", (), sys.exc_info()
        )
    [line] = CloudLoggingFormatter().format(record).splitlines()
    entry = json.loads(line)
    assert entry["severity"] == "ERROR"
    assert entry["message"].startswith("ingest failed\nTraceback")
    assert "ValueError: bad row" in entry["message"]
