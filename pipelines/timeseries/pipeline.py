"""Time-series forecasting with stacked LSTMs: BigQuery ingest -> train -> evaluate -> deploy."""

from typing import NamedTuple

from google_cloud_pipeline_components.types.artifact_types import UnmanagedContainerModel
from kfp import dsl
from kfp.dsl import HTML, Dataset, Metrics

from components.container_images import SERVING_IMAGE
from components.timeseries.evaluate import evaluate_forecaster
from components.timeseries.ingest import ingest_bigquery
from components.timeseries.train import train_forecaster
from components.timeseries.tuning import trial_settings
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
from trainer.timeseries.config import TimeseriesTrainConfig

PIPELINE_NAME = "timeseries-forecasting"


class TimeseriesOutputs(NamedTuple):
    dataset: Dataset
    model: UnmanagedContainerModel
    training: Metrics
    evaluation: Metrics
    report: HTML
    statistics: HTML
    validation: HTML


def build_pipeline(target: Target):
    """The forecasting pipeline for `target` (local runner or Vertex AI); same parameters."""

    @dsl.pipeline(name=PIPELINE_NAME, description=__doc__)
    def timeseries_pipeline(
        source_query: str,  # BigQuery Standard SQL, or a project.dataset.table
        local_database: str = "",  # a DuckDB file to run the query on instead (local runs)
        bigquery_project: str = "",  # default: the credentials' project (Vertex AI: the run's)
        bigquery_location: str = "",
        # Deployment: model_name names the registered model on both targets.
        model_name: str = "forecaster",
        registry_uri: str = "",  # local target: the local registry directory
        endpoint_name: str = "forecaster",  # Vertex AI: endpoint display name, reused if it exists
        endpoint_service_account: str = "",  # Vertex AI: the account the model serves as
        serving_machine_type: str = "n1-standard-2",
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
        tuning_metric: str = "",  # "": the case's (trainer/timeseries/tuning.py)
        tuning_algorithm: str = "ALGORITHM_UNSPECIFIED",  # or RANDOM_SEARCH, GRID_SEARCH
        # The series.
        time_column: str = "ts",
        target_column: str = "value",
        frequency: str = "",  # pandas alias such as "h" or "D"; inferred when empty
        imputation: str = "interpolate",  # or "forward_fill"
        max_imputed_fraction: float = 0.2,  # largest imputed share of the series or a range
        # Windows, model and training.
        window: int = 48,
        horizon: int = 1,
        stride: int = 1,
        lstm_units: int = 50,
        lstm_layers: int = 2,
        dropout: float = 0.2,
        batch_size: int = 64,
        epochs: int = 20,
        learning_rate: float = 0.001,
        early_stopping_patience: int = 3,
        test_fraction: float = 0.1,
        cv_folds: int = 3,
        seed: int = 42,
        # Data validation, before training: against a pinned schema or the champion's.
        schema_uri: str = "",  # a schema.json (local or gs://); "": the champion's, or inferred
        drift_action: str = "warn",  # drift over a threshold: "warn", or "fail" (stop the run)
        drift_threshold: float = 0.3,  # every feature's; Vertex AI Model Monitoring's default
        drift_thresholds: dict = {},  # noqa: B006 (per feature, e.g. {"value": 0.2})
        # Distribution: the tf.distribute strategy ("auto": from the cluster and the devices).
        strategy: str = "auto",
        learning_rate_scaling: str = "linear",  # learning_rate with the replicas: or sqrt, none
        checkpoint_every_steps: int = 0,  # resumable backups every N steps; 0: every epoch
        # Quality gate: beat the seasonal-naive forecast by this fraction of its MAE.
        season_length: int = 0,  # 0: from the frequency (hourly 24, daily 7, weekly 52, ...)
        baseline_margin: float = 0.05,
        regression_tolerance: float = 0.01,  # vs the champion: a fraction of its score
    ) -> TimeseriesOutputs:
        ingest = ingest_bigquery(
            source_query=source_query,
            local_database=local_database,
            project=bigquery_project,
            location=bigquery_location,
            time_column=time_column,
            target_column=target_column,
            frequency=frequency,
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
            "timeseries",
            trial_settings,
            pick_fields(TimeseriesTrainConfig, locals()),
            ingest.outputs["dataset"],
            TuningStudy(**pick_fields(TuningStudy, locals())),
            resources,
            after=checks,
        )
        train = target.train(
            train_forecaster,
            resources,
            dataset=ingest.outputs["dataset"],
            tuning_result=tuned,
            data_baseline=checks.outputs["data_baseline"],
            serving_image=serving_image,
            request_log_uri=request_log_uri,
            **pick_fields(TimeseriesTrainConfig, locals()),
        )
        evaluate = evaluate_forecaster(
            model=train["model"],
            dataset=ingest.outputs["dataset"],
            season_length=season_length,
            baseline_margin=baseline_margin,
            champion_uri=champion,
            regression_tolerance=regression_tolerance,
        ).set_display_name("evaluate")
        deploy_if_blessed(target, evaluate, train["model"], deployment)
        return TimeseriesOutputs(
            ingest.outputs["dataset"],
            train["model"],
            train["metrics"],
            evaluate.outputs["metrics"],
            evaluate.outputs["report"],
            ingest.outputs["statistics_report"],
            checks.outputs["report"],
        )

    return target.notifying(timeseries_pipeline)
