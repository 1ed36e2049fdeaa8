"""The batch prediction pipeline: compiled for both targets, and `make predict`'s command on
the kfp local runner (real subprocess steps) with a small real SavedModel in a registry."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
import yaml

from pipelines.cli import main
from pipelines.compile import compile_pipeline
from serving.registry.local_registry import LocalModelRegistry
from tests.serving.conftest import export_scaler
from trainer.batch_prediction.bigquery_rows import query_rows
from trainer.batch_prediction.sources import resolve_source


def test_vertex_runs_gcpc_batch_predict_on_the_looked_up_version(tmp_path):
    spec = yaml.safe_load(
        compile_pipeline("batch_prediction", tmp_path, target="vertex").read_text()
    )
    tasks = spec["root"]["dag"]["tasks"]
    assert set(tasks) == {"plan-vertex-batch-prediction", "model-batch-predict"}
    job = tasks["model-batch-predict"]
    model = job["inputs"]["artifacts"]["model"]["taskOutputArtifact"]
    assert model == {"outputArtifactKey": "model", "producerTask": "plan-vertex-batch-prediction"}
    parameters = job["inputs"]["parameters"]
    for name in ("machine_type", "starting_replica_count", "max_replica_count"):
        assert parameters[name] == {"componentInputParameter": name}
    assert parameters["manual_batch_tuning_parameters_batch_size"] == {
        "componentInputParameter": "batch_size"
    }
    for name in ("instances_format", "gcs_source_uris", "bigquery_source_input_uri"):
        assert (
            parameters[name]["taskOutputParameter"]["producerTask"]
            == "plan-vertex-batch-prediction"
        )
    assert not any(t["cachingOptions"].get("enableCache") for t in tasks.values())
    executor = spec["deploymentSpec"]["executors"]["exec-model-batch-predict"]["container"]
    assert (
        "google_cloud_pipeline_components.container.v1.batch_prediction_job.launcher"
        in " ".join(executor["command"] + executor["args"])
    )
    local = yaml.safe_load(
        compile_pipeline("batch_prediction", tmp_path, target="local").read_text()
    )
    assert set(local["root"]["dag"]["tasks"]) == {"predict-batch-locally"}
    assert local["root"]["inputDefinitions"] == spec["root"]["inputDefinitions"]


@pytest.fixture(scope="module")
def registry(tmp_path_factory) -> Path:
    root = tmp_path_factory.mktemp("batch")
    registry = LocalModelRegistry(root / "registry")
    registry.register("forecaster", export_scaler(root / "x2", 2.0))  # timeseries' model name
    return registry.root


def predict(registry: Path, tmp_path: Path, *args: str) -> None:
    main(["predict", "timeseries", "--registry", str(registry), "--output", str(tmp_path / "out"),
          "--pipeline-root", str(tmp_path / "root"), *args])  # fmt: skip


def test_make_predict_writes_vertex_layout(registry, tmp_path, capsys):
    (tmp_path / "in.jsonl").write_text('[1, 2, 3]\n{"window": [1, 1]}\n')
    predict(registry, tmp_path, "--source", str(tmp_path / "in.jsonl"))
    [folder] = (tmp_path / "out").iterdir()
    assert folder.name.startswith("prediction-forecaster-")
    results = (folder / "prediction.results-00000-of-00001").read_text().splitlines()
    assert [json.loads(r) for r in results] == [
        {"instance": [1, 2, 3], "prediction": {"forecast": [12.0], "total": 12.0}}
    ]
    [error] = (folder / "prediction.errors_stats-00000-of-00001").read_text().splitlines()
    assert json.loads(error)["instance"] == {"window": [1, 1]}
    assert f"Predictions: 1, errors: 1\nOutput:      {folder}" in capsys.readouterr().out


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (["--model-version", "3"], "no version or alias '3'.*versions are \\[1\\]"),
        (["--source", "/no/such/file.jsonl"], "names no file"),
        (["--source", "gs://"], "has no bucket"),
        (["--batch-size", "0"], "batch_size=0 is out of range"),
        (
            ["--batch-size", "1025"],
            "batch_size=1025 is out of range: it must be from 1 to 1,024",
        ),  # the server's
    ],
)
def test_make_predict_refuses_bad_arguments_before_any_step(registry, tmp_path, args, message):
    source = [] if "--source" in args else ["--source", str(tmp_path / "x.jsonl")]
    (tmp_path / "x.jsonl").write_text("[1, 2, 3]\n")
    with pytest.raises(SystemExit, match=message):
        predict(registry, tmp_path, *source, *args)
    assert not (tmp_path / "root").exists()


def test_the_demo_sources_are_sources(tmp_path):
    from pipelines.text.demo import batch_source as text_source
    from pipelines.timeseries.demo import DEMO_TRAINING
    from pipelines.timeseries.demo import batch_source as timeseries_source

    text = text_source(tmp_path)
    assert resolve_source(text["source_uri"]).format == "jsonl"
    first = json.loads(Path(text["source_uri"]).read_text().splitlines()[0])
    assert set(first) == {"text"}
    series = timeseries_source(tmp_path)
    assert resolve_source(series["source_uri"]).format == "bigquery"
    rows = list(query_rows(series["source_uri"], series["local_database"]))
    assert rows and {len(r["window"]) for r in rows} == {DEMO_TRAINING["window"]}
    assert set(rows[0]) == {"window"}
