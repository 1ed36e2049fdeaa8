"""The whole text pipeline on the kfp local runner: gs:// on the storage emulator, hub module."""

import contextlib
import json
import os
import subprocess
import sys
import time
from pathlib import Path

import pytest
import tensorflow as tf

from pipelines.catalog import get_pipeline
from pipelines.cli import main
from pipelines.local.gcs_emulator import upload_file
from pipelines.local.runner import run_locally
from pipelines.monitoring.command import ALERT_EXIT_CODE
from pipelines.text.demo import demo_arguments, demo_corpus
from serving.registry.local_registry import LocalModelRegistry
from serving.server.deployments import Deployment
from serving.server.model_server import ModelServer
from serving.server.request_log import RequestLog
from tests.conftest import REPO
from tests.serving.conftest import call, running_server, wait_ready

pytestmark = pytest.mark.pipeline

QUICK = {"epochs": 5}


def test_demo_run_is_blessed_and_registers_a_model_that_reads_raw_text(
    gcs_emulator, tmp_path, capsys
):
    upload_file(demo_corpus(REPO / "build"), "gs://pipeline-test/text/messages.jsonl")
    arguments = demo_arguments(REPO / "build", "gs://pipeline-test/text/messages.jsonl", QUICK)
    arguments["registry_uri"] = str(tmp_path / "registry")

    outputs = run_locally(get_pipeline("text"), arguments, tmp_path / "root")

    evaluation = outputs["evaluation"].metadata
    assert evaluation["blessed"] is True, evaluation["reason"]
    assert evaluation["accuracy"] > evaluation["baseline_accuracy"]
    manifest = json.loads((Path(outputs["dataset"].path) / "manifest.json").read_text())
    assert manifest["source_uri"] == "gs://pipeline-test/text/messages.jsonl"
    assert manifest["classes"] == ["billing", "shipping", "technical"]

    champion = LocalModelRegistry(tmp_path / "registry").champion("text")
    assert champion is not None and champion.version == 1
    serve = tf.saved_model.load(str(champion.path)).signatures["serving_default"]
    out = serve(
        text=tf.constant(
            [
                "I was charged twice for my order, please refund",
                "The package never arrived and tracking has not moved",
                "The app crashes every time I open settings",
            ]
        )
    )
    assert [x.decode() for x in out["label"].numpy()] == ["billing", "shipping", "technical"]

    _a_worse_challenger_is_not_promoted(arguments, tmp_path)
    _served_traffic_is_monitored(arguments, outputs, tmp_path, capsys)


def _a_worse_challenger_is_not_promoted(arguments: dict, tmp_path: Path) -> None:
    """A second run that barely trains is held back by the champion; the server keeps it.

    The same data, so no anomaly and no drift against the champion's data baseline,
    and the same test split; only the champion gate can reject
    it (threshold 0), and a running server watching the registry keeps serving
    version 1.
    """
    registry = LocalModelRegistry(arguments["registry_uri"])
    server = ModelServer({"text": Deployment(registry, "text")})
    with running_server(server, poll_s=0.1) as base:
        wait_ready(base)
        worse = {**arguments, "epochs": 1, "learning_rate": 1e-7, "accuracy_threshold": 0.0}
        outputs = run_locally(get_pipeline("text"), worse, tmp_path / "root")
        validation = outputs["validation"].metadata
        assert validation["schema"].startswith("the champion's") and validation["anomalies"] == 0
        assert set(validation["distances"]) >= {"label", "text_length", "text_words"}
        assert set(validation["distances"].values()) == {0.0}, "the same data does not drift"
        evaluation = outputs["evaluation"].metadata
        champion = json.loads(evaluation["champion"])
        assert champion["passed"] is False and evaluation["blessed"] is False
        assert champion["champion"] > champion["challenger"], champion
        assert "champion" in evaluation["reason"]
        assert registry.versions("text") == [1] and registry.champion("text").version == 1
        time.sleep(0.3)  # several polls of the registry
        status, body = call(base, "/predict", {"instances": ["my parcel has not arrived"]})
    assert status == 200 and body["deployedModelId"] == "text-1"
    assert body["predictions"][0]["label"] == "shipping"


def _served_traffic_is_monitored(arguments: dict, outputs: dict, tmp_path: Path, capsys) -> None:
    """`python -m pipelines monitor` on what a real server logged: the test texts raise no
    alert, texts ten times as long do (skew), and the command exits 3 for them."""
    examples = Path(outputs["dataset"].path) / "examples.jsonl"
    test_texts = [json.loads(line)["text"] for line in examples.read_text().splitlines()]
    for name, instances, code in (
        ("usual", test_texts[:120], 0),
        ("long", [" ".join([text] * 10) for text in test_texts[:120]], ALERT_EXIT_CODE),
    ):
        log = RequestLog(str(tmp_path / name), 1.0)
        registry = LocalModelRegistry(arguments["registry_uri"])
        server = ModelServer({"text": Deployment(registry, "text")})
        with running_server(server, request_log=log) as base:
            wait_ready(base)
            for start in range(0, len(instances), 20):
                body = {"instances": instances[start : start + 20]}
                assert call(base, "/v1/models/text:predict", body)[0] == 200
        assert log.close()
        report = tmp_path / f"{name}.html"
        argv = ["monitor", "text", "--registry", arguments["registry_uri"]]
        argv += ["--request-log", str(tmp_path / name), "--report", str(report)]
        with pytest.raises(SystemExit) if code else contextlib.nullcontext() as exit_:
            main(argv)
        assert (exit_.value.code if code else 0) == code, capsys.readouterr().out
        printed = capsys.readouterr().out
        assert "120 instances" in printed and report.is_file(), printed
        assert ("skew in text_length" in printed) == bool(code), printed
    _the_monitoring_pipeline_fails_on_the_alert(arguments, tmp_path)


def _the_monitoring_pipeline_fails_on_the_alert(arguments: dict, tmp_path: Path) -> None:
    """The schedulable monitoring pipeline, on the local runner, reads the same logs."""
    monitoring = get_pipeline("monitoring")
    usual = {"model_name": "text", "registry_uri": arguments["registry_uri"]}
    outputs = run_locally(
        monitoring, {**usual, "request_log_uri": str(tmp_path / "usual")}, tmp_path / "mon"
    )
    assert "no alert" in outputs["Output"].metadata["summary"]
    with pytest.raises(RuntimeError, match="monitor"):
        run_locally(
            monitoring, {**usual, "request_log_uri": str(tmp_path / "long")}, tmp_path / "m2"
        )
    assert list((tmp_path / "m2").glob("**/report.html")), "the report is written on an alert"


def _cli(*args: str) -> subprocess.CompletedProcess:
    return subprocess.run(
        [sys.executable, "-m", "pipelines", "run", "text", *args],
        cwd=REPO,
        capture_output=True,
        text=True,
        timeout=600,
        env={**os.environ, "TF_CPP_MIN_LOG_LEVEL": "3"},
    )


def test_bad_rows_are_dropped_and_counted_and_a_missing_handle_stops_training(tmp_path):
    rows = [{"text": f"refund my card charge number {i}", "label": "billing"} for i in range(12)]
    rows += [{"text": f"parcel {i} has not arrived", "label": "shipping"} for i in range(12)]
    lines = [json.dumps(r).encode() for r in rows]
    lines += [b'{"text": "", "label": "billing"}', b'{"text": "no label here"}']
    lines += [b'{"text": "caf\\udce9 bill", "label": "billing"}', b"not json at all"]
    source = tmp_path / "messages.jsonl"
    source.write_bytes(b"\n".join(lines))

    result = _cli(
        "--source", str(source),
        "--pipeline-root", str(tmp_path / "root"),
        "--set", f"registry_uri={tmp_path / 'registry'}",
        "--set", f"hub_handle={tmp_path / 'no-such-module'}",
    )  # fmt: skip

    assert result.returncode != 0
    output = result.stdout + result.stderr
    assert "does not exist here" in output and "no-such-module" in output
    assert "Nothing was registered" in output
    manifest = json.loads(next((tmp_path / "root").glob("**/dataset/manifest.json")).read_text())
    dropped = manifest["dropped_by_reason"]
    assert dropped["empty text"] == 1 and dropped["missing label"] == 1
    assert dropped["invalid UTF-8"] == 1 and dropped["malformed line"] == 1
    assert not (tmp_path / "registry").exists()


def test_a_renamed_text_column_stops_the_run_before_training_naming_it(tmp_path):
    rows = [{"body": f"refund charge {i}", "label": "billing"} for i in range(10)]
    rows += [{"body": f"parcel {i} is late", "label": "shipping"} for i in range(10)]
    source = tmp_path / "renamed.jsonl"
    source.write_text("".join(json.dumps(row) + "\n" for row in rows))

    result = _cli(
        "--source", str(source),
        "--pipeline-root", str(tmp_path / "root"),
        "--set", f"registry_uri={tmp_path / 'registry'}",
    )  # fmt: skip

    assert result.returncode != 0
    output = result.stdout + result.stderr
    assert "field 'text'" in output and "'body'" in output and "text_field" in output
    assert not list((tmp_path / "root").glob("**/model/metadata.json")), "nothing was trained"
    assert not (tmp_path / "registry").exists()
