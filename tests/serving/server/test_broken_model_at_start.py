"""`python -m serving` on a registry where one model is broken: the others are served, the
broken one is named with its path and repair; with nothing servable, one line and exit.

In this process, as main() builds it (tests/serving/conftest.py's scaler models), on a
real socket; the subprocess form of the command is in test_serving_command.py.
"""

import shutil
import time

import pytest

from serving.__main__ import main as serving_main
from serving.__main__ import parser
from serving.registry.registry_check import repair_model
from serving.server_from_args import build_server
from tests.serving.conftest import call, running_server, wait_ready
from trainer.launch import free_ports

ROW = [1.0, 2.0, 3.0]

REPAIR = "Repair: `make registry-check REGISTRY={root} REPAIR=1`"
BREAKS = {  # how, what the problem says, the repair it names, the champion after the repair
    "champion directory deleted": (
        lambda home: shutil.rmtree(home / "versions" / "2"),
        "its champion, version 2, cannot be served: {root}/scaler/versions/2 is missing",
        REPAIR,
        1,
    ),
    "champion half copied": (
        lambda home: (home / "versions" / "2" / "metadata.json").unlink(),
        "{root}/scaler/versions/2 is incomplete (no metadata.json)",
        REPAIR,
        1,
    ),
    "aliases.json truncated": (
        lambda home: (home / "aliases.json").write_text('{"champion": 2'),
        "{root}/scaler/aliases.json is corrupt: it is not valid JSON",
        REPAIR,
        2,
    ),
}


@pytest.fixture
def two_models(registry, scaler_exports):
    """The conftest's 'scaler' (versions 1, 2; champion 2) and 'other' (version 1)."""
    registry.register("other", scaler_exports[0])
    return registry


@pytest.mark.parametrize("case", BREAKS)
def test_the_healthy_model_is_served_and_the_broken_one_named(two_models, tmp_path, case):
    breaking, expected, repair, champion = BREAKS[case]
    breaking(two_models.root / "scaler")
    expected, repair = (text.format(root=two_models.root) for text in (expected, repair))
    args = parser().parse_args(["--registry", str(two_models.root)])
    server = build_server(args, tmp_path)
    with running_server(server, poll_s=0.01) as base:
        wait_ready(base)
        status, health = call(base, "/health")
        assert (status, health["status"], health["models"]) == (200, "degraded", {"other": [1]})
        assert expected in health["problems"]["scaler"] and repair in health["problems"]["scaler"]
        answer = call(base, "/v1/models/other:predict", {"instances": [ROW]})
        assert answer == (200, {"predictions": [{"forecast": [6.0], "total": 6.0}]})
        status, refused = call(base, "/v1/models/scaler:predict", {"instances": [ROW]})
        assert status == 503 and expected in refused["error"]
        [version] = call(base, "/v1/models/scaler")[1]["model_version_status"]
        assert version["state"] == "END" and expected in version["status"]["error_message"]

        assert repair_model(two_models, "scaler")  # make registry-check REPAIR=1
        _wait_for(lambda: call(base, "/v1/models/scaler:predict", {"instances": [ROW]})[0] == 200)
        answer = call(base, "/v1/models/scaler:predict", {"instances": [ROW]})[1]
        assert answer["predictions"][0]["total"] == 6.0 * champion
        assert call(base, "/health")[1] == {
            "status": "ready",
            "models": {"other": [1], "scaler": [champion]},
            "problems": {},
        }


def _wait_for(condition, timeout_s: float = 60) -> None:
    deadline = time.monotonic() + timeout_s
    while not condition():
        assert time.monotonic() < deadline, f"not within {timeout_s} s"
        time.sleep(0.01)


def test_when_no_model_can_be_served_the_server_stops_with_one_line(registry):
    shutil.rmtree(registry.root / "scaler" / "versions" / "2")
    with pytest.raises(SystemExit) as stopped:
        serving_main(["--registry", str(registry.root), "--port", str(free_ports(1)[0])])
    message = str(stopped.value)
    assert message.startswith(f"python -m serving: error: No model of {registry.root} can be")
    assert f"scaler: its champion, version 2, cannot be served: {registry.root}" in message
    assert "make registry-check" in message and "\n" not in message


def test_a_directory_that_is_no_model_does_not_stop_the_others(registry, tmp_path):
    (registry.root / "not a model").mkdir()
    server = build_server(parser().parse_args(["--registry", str(registry.root)]), tmp_path)
    assert list(server.deployments) == ["scaler"]
