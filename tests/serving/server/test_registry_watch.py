"""The registry watcher under a broken registry: the last good versions keep serving, the
problem is named in /health, the model status and the log (once), and a fix is followed.

A real server on 127.0.0.1 serves the conftest's scaler models (version v answers v x
the row sum); the registry is broken on disk while it runs, as a person or a crash would.
"""

import logging
import shutil
import time

import pytest

from serving.contracts.artifact_dirs import write_json
from serving.registry.registry_check import repair_model
from tests.serving.conftest import call, running_server, scaler_server, wait_ready

ROW = [1.0, 2.0, 3.0]  # version v answers total 6 v


def _prepared_version(registry, export, remove: str = "", garble: str = "") -> None:
    """Version 3 on disk, not yet champion: copied from `export`, less `remove`, `garble`d."""
    path = registry.root / "scaler" / "versions" / "3"
    shutil.copytree(export, path)
    if remove:
        (path / remove).unlink()
    if garble:
        (path / garble).write_bytes(b"not a graph")


def _write(path, text: str) -> None:
    """Replace a file at once, so the watcher never reads it half-written."""
    path.with_name("tmp").write_text(text)
    path.with_name("tmp").replace(path)


def _point_champion_at(registry, version: int) -> None:
    write_json(registry.root / "scaler" / "aliases.json", {"champion": version})


FAULTS = {
    "truncated aliases.json": (
        lambda registry, _: _write(registry.root / "scaler" / "aliases.json", '{"champ'),
        "aliases.json is corrupt: it is not valid JSON",
    ),
    "a directory for aliases.json": (
        lambda registry, _: [
            (registry.root / "scaler" / "aliases.json").unlink(),
            (registry.root / "scaler" / "aliases.json").mkdir(),
        ],
        "aliases.json cannot be read (Is a directory)",
    ),
    "a champion directory that is gone": (
        lambda registry, _: _point_champion_at(registry, 7),
        "its champion, version 7, cannot be served: {root}/scaler/versions/7 is missing",
    ),
    "a champion without its saved model": (
        lambda registry, exports: [
            _prepared_version(registry, exports[2], remove="saved_model.pb"),
            _point_champion_at(registry, 3),
        ],
        "{root}/scaler/versions/3 is incomplete (no saved_model.pb)",
    ),
    "a champion whose graph will not load": (
        lambda registry, exports: [
            _prepared_version(registry, exports[2], garble="saved_model.pb"),
            _point_champion_at(registry, 3),
        ],
        "version 3 of scaler did not load",
    ),
}


def _repair(registry) -> None:
    aliases = registry.root / "scaler" / "aliases.json"
    if aliases.is_dir():
        aliases.rmdir()
    shutil.rmtree(registry.root / "scaler" / "versions" / "3", ignore_errors=True)
    _point_champion_at(registry, 2)


def _wait_until(condition, timeout_s: float = 60):
    deadline = time.monotonic() + timeout_s
    while not (found := condition()):
        assert time.monotonic() < deadline, f"not within {timeout_s} s"
        time.sleep(0.01)
    return found


@pytest.mark.parametrize("fault", FAULTS)
def test_a_broken_registry_keeps_the_last_good_version_serving_until_it_is_fixed(
    registry, scaler_exports, caplog, fault
):
    breaking, expected = FAULTS[fault]
    expected = expected.format(root=registry.root)
    server = scaler_server(registry)
    caplog.set_level(logging.INFO, logger="serving.server.registry_watch")
    with running_server(server, poll_s=0.01) as base:
        wait_ready(base)
        breaking(registry, scaler_exports)
        _wait_until(lambda: server.deployments["scaler"].watch.failed_polls >= 3)

        status, health = call(base, "/health")  # Vertex AI must not restart this replica
        assert status == 200 and health["status"] == "degraded", health
        assert health["models"] == {"scaler": [2]}
        assert expected in health["problems"]["scaler"]
        status, answer = call(base, "/predict", {"instances": [ROW]})
        assert (status, answer["deployedModelId"]) == (200, "scaler-2"), answer
        assert answer["predictions"][0]["total"] == 12.0
        watch = call(base, "/v1/models/scaler")[1]["registry_watch"]
        assert expected in watch["problem"] and watch["failed_polls"] >= 3
        logged = [r.getMessage() for r in caplog.records if expected in r.getMessage()]
        assert len(logged) == 1, logged  # once, not at every poll

        _repair(registry)
        registry.register("scaler", scaler_exports[2])  # version 3: a new champion
        _wait_until(lambda: _answered_by(base) == "scaler-3")
        assert call(base, "/predict", {"instances": [ROW]})[1]["predictions"][0]["total"] == 18.0
        status, health = call(base, "/health")
        assert (status, health["status"], health["problems"]) == (200, "ready", {})
        assert "registry_watch" not in call(base, "/v1/models/scaler")[1]
    assert any("the registry is usable again" in r.getMessage() for r in caplog.records)


def test_a_repair_and_a_rollback_during_an_incident_take_effect(registry, scaler_exports):
    """The operator's fix: `make registry-check REPAIR=1`, then `make rollback`."""
    registry.register("scaler", scaler_exports[2])  # champions 2, then 3
    server = scaler_server(registry)
    with running_server(server, poll_s=0.01) as base:
        wait_ready(base)
        _write(registry.root / "scaler" / "aliases.json", "")
        _wait_until(lambda: server.deployments["scaler"].error)
        assert call(base, "/predict", {"instances": [ROW]})[1]["deployedModelId"] == "scaler-3"
        assert repair_model(registry, "scaler")  # champion 3 again, from the history
        registry.rollback("scaler")
        _wait_until(lambda: _answered_by(base) == "scaler-2")
        assert call(base, "/health")[1]["problems"] == {}


def _answered_by(base: str) -> str:
    return call(base, "/predict", {"instances": [ROW]})[1].get("deployedModelId", "")


@pytest.mark.parametrize("fault", [RuntimeError("a bug"), OverflowError("timeout too large")])
def test_a_refresh_that_raises_never_ends_the_watcher(registry, scaler_exports, caplog, fault):
    """refresh() records every fault it expects, so one that raises is a bug: a stand-in
    refresh raises for three polls after the first load; the watcher counts, reports and
    goes on, and follows the next champion."""
    server = scaler_server(registry)
    deployment, calls = server.deployments["scaler"], []
    refresh = deployment.refresh

    def faulty() -> bool:
        calls.append(1)
        if 2 <= len(calls) <= 4:
            raise fault
        return refresh()

    deployment.refresh = faulty
    caplog.set_level(logging.INFO, logger="serving.server.registry_watch")
    server.start(poll_s=0.01)
    try:
        _wait_until(lambda: len(calls) > 5)
        assert server.watcher_errors == 3 and server._threads[0].is_alive()
        registry.register("scaler", scaler_exports[2])
        _wait_until(lambda: deployment.split and 3 in deployment.split.versions)
        assert deployment.error == ""  # the next poll that worked cleared the problem
    finally:
        server.stop()
    logged = [r.getMessage() for r in caplog.records if r.levelno == logging.ERROR]
    assert logged == [  # once, not at every poll
        f"scaler: the registry watcher's refresh failed: {type(fault).__name__}: {fault} "
        "(the watcher goes on polling; logged again only when this changes or is fixed)"
    ]
