"""Each component under the kfp local runner (SubprocessRunner, no venv).

The local runner cannot pass artifacts to a lone component call, so components
that take artifacts run in a one-step pipeline behind `dsl.importer`.
"""

from pathlib import Path
from typing import NamedTuple

import pytest
from google_cloud_pipeline_components.types.artifact_types import (
    UnmanagedContainerModel,
    VertexModel,
)
from kfp import dsl, local
from kfp.dsl import Artifact, ClassificationMetrics, Dataset, Metrics

from components.container_images import SERVING_IMAGE
from components.deploy import register_model_locally
from components.vision.evaluate import evaluate_image_classifier
from components.vision.ingest import ingest_image_folder
from components.vision.train import train_image_classifier
from serving.registry.local_registry import LocalModelRegistry
from trainer.data_validation.schema import infer_schema, write_schema
from trainer.data_validation.statistics import read_statistics, write_statistics
from trainer.vision.ingest import read_manifest
from trainer.vision.pretrain_base import DEFAULT_BASE
from trainer.vision.statistics import dataset_statistics

pytestmark = pytest.mark.pipeline


@pytest.fixture(autouse=True)
def local_runner(tmp_path) -> Path:
    root = tmp_path / "pipeline_root"
    local.init(runner=local.SubprocessRunner(use_venv=False), pipeline_root=str(root))
    return root


def test_ingest_writes_dataset_and_manifest(digits_dir):
    dataset = ingest_image_folder(source_uri=str(digits_dir)).outputs["dataset"]
    assert (Path(dataset.path) / "manifest.json").is_file()
    assert dataset.metadata["classes"] == [f"digit_{d}" for d in range(5)]
    assert dataset.metadata["num_files"] == len(list(Path(dataset.path).glob("images/*/*.png")))


def test_ingest_failure_fails_the_task_with_the_reason(make_image_folder, local_runner, capsys):
    source = make_image_folder({"only_class": 20})
    with pytest.raises(RuntimeError, match="FAILURE"):
        ingest_image_folder(source_uri=str(source))
    assert "single class folder" in capsys.readouterr().out
    assert not list(local_runner.glob("**/manifest.json")), "no dataset looks complete"


class TrainOutputs(NamedTuple):
    model: UnmanagedContainerModel
    metrics: Metrics


@dsl.pipeline
def train_pipeline(dataset_uri: str, baseline_uri: str, weights: str) -> TrainOutputs:
    dataset = dsl.importer(artifact_uri=dataset_uri, artifact_class=Dataset, reimport=False)
    baseline = dsl.importer(artifact_uri=baseline_uri, artifact_class=Artifact, reimport=False)
    task = train_image_classifier(
        dataset=dataset.output,
        data_baseline=baseline.output,
        base_model=DEFAULT_BASE,
        base_weights=weights,
        image_size=32,
        head_epochs=1,
        fine_tune_epochs=0,
        augment_flip="none",
        serving_image=SERVING_IMAGE,
        request_log_uri="gs://logs/vision",
    )
    return TrainOutputs(task.outputs["model"], task.outputs["metrics"])


def test_train_outputs_model_and_metrics(digits_dataset, small_base_weights, tmp_path):
    baseline = tmp_path / "baseline"
    statistics = dataset_statistics(digits_dataset, read_manifest(digits_dataset))
    write_schema(baseline, infer_schema(statistics))
    write_statistics(baseline, statistics)
    outputs = train_pipeline(
        dataset_uri=str(digits_dataset),
        baseline_uri=str(baseline),
        weights=str(small_base_weights),
    )
    model_dir = Path(outputs.outputs["model"].path)
    assert (model_dir / "saved_model.pb").is_file() and (model_dir / "metadata.json").is_file()
    # the data baseline travels with the model, for the next run's validation and for monitoring
    kept = model_dir / "data_baseline"
    assert (kept / "schema.json").read_text() == (baseline / "schema.json").read_text()
    assert read_statistics(kept) == statistics
    assert 0 <= outputs.outputs["metrics"].metadata["val_accuracy"] <= 1
    container = outputs.outputs["model"].metadata["containerSpec"]
    assert container["imageUri"] == SERVING_IMAGE  # what Vertex's ModelUploadOp deploys
    assert container["command"] == ["python3", "-m", "serving"]  # the project's server
    assert container["args"][-2:] == ["--request-log", "gs://logs/vision"]  # for monitoring


class EvaluateOutputs(NamedTuple):
    blessed: bool
    metrics: Metrics
    classification_metrics: ClassificationMetrics


@dsl.pipeline
def evaluate_pipeline(model_uri: str, dataset_uri: str, threshold: float) -> EvaluateOutputs:
    model = dsl.importer(
        artifact_uri=model_uri, artifact_class=UnmanagedContainerModel, reimport=False
    )
    dataset = dsl.importer(artifact_uri=dataset_uri, artifact_class=Dataset, reimport=False)
    task = evaluate_image_classifier(
        model=model.output, dataset=dataset.output, accuracy_threshold=threshold
    )
    return EvaluateOutputs(
        task.outputs["Output"], task.outputs["metrics"], task.outputs["classification_metrics"]
    )


@pytest.mark.parametrize("threshold", [0.0, 1.0])
def test_evaluate_outputs_metrics_confusion_matrix_and_blessing(
    trained_model, digits_dataset, threshold
):
    model_dir, _ = trained_model
    outputs = evaluate_pipeline(
        model_uri=str(model_dir), dataset_uri=str(digits_dataset), threshold=threshold
    ).outputs
    metrics = outputs["metrics"].metadata
    assert outputs["blessed"] is (metrics["accuracy"] >= threshold)
    assert metrics["blessed"] is outputs["blessed"]
    rows = [
        row["row"] for row in outputs["classification_metrics"].metadata["confusionMatrix"]["rows"]
    ]
    assert len(rows) == 5 and sum(map(sum, rows)) == metrics["num_examples"]


@dsl.pipeline
def register_pipeline(model_uri: str, registry_uri: str) -> VertexModel:
    model = dsl.importer(
        artifact_uri=model_uri, artifact_class=UnmanagedContainerModel, reimport=False
    )
    task = register_model_locally(
        model=model.output, registry_uri=registry_uri, model_name="vision"
    )
    return task.outputs["registered_model"]


def test_register_adds_a_champion_version(trained_model, tmp_path):
    model_dir, _ = trained_model
    registered = register_pipeline(model_uri=str(model_dir), registry_uri=str(tmp_path / "reg"))
    champion = LocalModelRegistry(tmp_path / "reg").champion("vision")
    assert champion.version == 1
    assert (champion.path / "saved_model.pb").is_file()
    assert registered.output.metadata["resourceName"] == "local/models/vision/versions/1"
