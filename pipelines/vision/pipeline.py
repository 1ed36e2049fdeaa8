"""Image classification with transfer learning: ingest -> train -> evaluate -> deploy if blessed."""

from typing import NamedTuple

from google_cloud_pipeline_components.types.artifact_types import UnmanagedContainerModel
from kfp import dsl
from kfp.dsl import HTML, Dataset, Metrics

from components.container_images import SERVING_IMAGE
from components.vision.evaluate import evaluate_image_classifier
from components.vision.ingest import ingest_image_folder
from components.vision.train import train_image_classifier
from components.vision.tuning import trial_settings
from pipelines.data_checks import DataChecks, validate
from pipelines.targets import (
    Deployment,
    Target,
    TrainingResources,
    deploy_if_blessed,
    never_cached,
)
from pipelines.tuning import TuningStudy, tuning_result
from trainer.distribution.options import pick_fields
from trainer.vision.config import VisionTrainConfig

PIPELINE_NAME = "image-classification"


class VisionOutputs(NamedTuple):
    dataset: Dataset
    model: UnmanagedContainerModel
    evaluation: Metrics
    report: HTML
    statistics: HTML
    validation: HTML


def build_pipeline(target: Target):
    """The vision pipeline for `target` (local runner or Vertex AI); same parameters for both."""

    @dsl.pipeline(name=PIPELINE_NAME, description=__doc__)
    def vision_pipeline(
        source_uri: str,
        # Deployment: model_name names the registered model on both targets.
        model_name: str = "vision",
        registry_uri: str = "",  # local target: the local registry directory
        endpoint_name: str = "vision",  # Vertex AI: endpoint display name, reused if it exists
        endpoint_service_account: str = "",  # Vertex AI: the account the model serves as
        serving_machine_type: str = "n1-standard-4",
        serving_min_replica_count: int = 1,
        serving_max_replica_count: int = 1,
        traffic_split: dict = {"0": 100},  # noqa: B006 ("0" = the new model; kfp needs a literal)
        serving_image: str = SERVING_IMAGE,
        # Vertex AI Model Monitoring of the endpoint (docs/vertex-monitoring.md; Vertex AI only).
        model_monitoring: bool = True,
        monitoring_sample_rate: float = 1.0,  # the share of requests analysed
        monitoring_interval_hours: int = 24,  # between monitoring runs
        monitoring_alert_emails: list = [],  # noqa: B006 (submit: VERTEX_NOTIFICATION_EMAILS)
        request_log_uri: str = "",  # gs://: the served model logs requests there (monitoring)
        # Training machines (Vertex AI custom job; the local runner uses this machine).
        train_machine_type: str = "n1-standard-8",
        train_accelerator_type: str = "ACCELERATOR_TYPE_UNSPECIFIED",  # e.g. NVIDIA_TESLA_T4
        train_accelerator_count: int = 0,
        train_replica_count: int = 1,  # > 1: multi-worker (chief + a pool; TF_CONFIG)
        # Hyperparameter tuning before training (docs/tuning.md); 0 trials: off.
        tuning_trials: int = 0,
        tuning_parallel_trials: int = 2,
        tuning_space: dict = {},  # noqa: B006 ({field: {min, max[, scale]} | {values}}; {}: the case's)
        tuning_metric: str = "",  # "": the case's (trainer/vision/tuning.py)
        tuning_algorithm: str = "ALGORITHM_UNSPECIFIED",  # or RANDOM_SEARCH, GRID_SEARCH
        # Model and training.
        base_model: str = "resnet50",
        base_weights: str = "imagenet",
        image_size: int = 224,
        batch_size: int = 32,
        head_epochs: int = 10,
        fine_tune_epochs: int = 5,
        fine_tune_layers: int = 30,
        learning_rate: float = 0.001,
        fine_tune_learning_rate: float = 0.0001,
        head_units: int = 128,
        dropout: float = 0.2,
        augment_flip: str = "horizontal",
        augment_rotation: float = 0.1,
        augment_zoom: float = 0.1,
        early_stopping_patience: int = 3,
        cv_folds: int = 0,
        seed: int = 42,
        # Data validation, before training: against a pinned schema or the champion's.
        schema_uri: str = "",  # a schema.json (local or gs://); "": the champion's, or inferred
        drift_action: str = "warn",  # drift over a threshold: "warn", or "fail" (stop the run)
        drift_threshold: float = 0.3,  # every feature's; Vertex AI Model Monitoring's default
        drift_thresholds: dict = {},  # noqa: B006 (per feature, e.g. {"image_brightness": 0.2})
        # Distribution: the tf.distribute strategy ("auto": from the cluster and the devices).
        strategy: str = "auto",
        learning_rate_scaling: str = "linear",  # learning_rate with the replicas: or sqrt, none
        checkpoint_every_steps: int = 0,  # resumable backups every N steps; 0: every epoch
        # Data split and quality gate.
        validation_fraction: float = 0.15,
        test_fraction: float = 0.15,
        min_images_per_class: int = 10,
        accuracy_threshold: float = 0.8,
        regression_tolerance: float = 0.01,  # vs the champion: a fraction of its score
    ) -> VisionOutputs:
        ingest = ingest_image_folder(
            source_uri=source_uri,
            validation_fraction=validation_fraction,
            test_fraction=test_fraction,
            min_images_per_class=min_images_per_class,
        ).set_display_name("ingest")
        never_cached(ingest)  # reads a source that changes under the same name
        # Config, machine, deployment and data-check fields are parameters here, picked by name
        # from locals().
        deployment = Deployment(**pick_fields(Deployment, locals()))
        champion = target.champion(model_name, registry_uri)
        checks = validate(
            ingest.outputs["statistics"], champion, DataChecks(**pick_fields(DataChecks, locals()))
        )
        resources = TrainingResources(**pick_fields(TrainingResources, locals()))
        tuned = tuning_result(
            target,
            "vision",
            trial_settings,
            pick_fields(VisionTrainConfig, locals()),
            ingest.outputs["dataset"],
            TuningStudy(**pick_fields(TuningStudy, locals())),
            resources,
            after=checks,
        )
        train = target.train(
            train_image_classifier,
            resources,
            dataset=ingest.outputs["dataset"],
            tuning_result=tuned,
            data_baseline=checks.outputs["data_baseline"],
            serving_image=serving_image,
            request_log_uri=request_log_uri,
            **pick_fields(VisionTrainConfig, locals()),
        )
        evaluate = evaluate_image_classifier(
            model=train["model"],
            dataset=ingest.outputs["dataset"],
            accuracy_threshold=accuracy_threshold,
            champion_uri=champion,
            regression_tolerance=regression_tolerance,
        ).set_display_name("evaluate")
        deploy_if_blessed(target, evaluate, train["model"], deployment)
        return VisionOutputs(
            ingest.outputs["dataset"],
            train["model"],
            evaluate.outputs["metrics"],
            evaluate.outputs["report"],
            ingest.outputs["statistics_report"],
            checks.outputs["report"],
        )

    return target.notifying(vision_pipeline)
