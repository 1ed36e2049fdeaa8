"""JobService's model deployment monitoring jobs: stored as Vertex stores them, and never run.

Create, Get, List, Update (an LRO), Delete (an LRO), Pause and Resume. A job is checked
as Vertex checks it where that is cheap: its endpoint exists and has each objective's
deployed model, one job per endpoint, thresholds from 0 to 1, a sampling rate above 0
and at most 1, a monitoring interval of at least an hour, email addresses, a training
dataset for skew detection, and (when the emulator can read Cloud Storage) an analysis
instance schema that parses and names every field given a threshold, and a CSV training
dataset whose header names them too. Each stored job is also written as protojson to
`record_dir`/<job id>.json, where a test or a user of `make emulate` reads what the
deploy step configured. Nothing is analysed: no traffic is sampled, no alert is sent.
"""

from __future__ import annotations

import json
import re
from collections.abc import Callable
from pathlib import Path

import grpc
import yaml
from google.cloud import aiplatform_v1 as v1
from google.longrunning import operations_pb2
from google.protobuf import empty_pb2

from pipelines.emulator.rpc.rpc import ApiError, Rpc, service_rpcs
from pipelines.emulator.vertex import names
from pipelines.emulator.vertex.listing import matching
from pipelines.emulator.vertex.operations import Operations
from pipelines.emulator.vertex.state import EmulatorState, now
from pipelines.emulator.vertex.validation import check_display_name, check_gcs_uri, invalid

SERVICE = "google.cloud.aiplatform.v1.JobService"
_GAPIC = "google.cloud.aiplatform_v1.services.job_service"
_JOBS = "modelDeploymentMonitoringJobs"
_KIND = "ModelDeploymentMonitoringJob"
_Job = v1.ModelDeploymentMonitoringJob
_EMAIL = re.compile(r"^[^@\s,]+@[^@\s,]+\.[^@\s,]+$")
_FORMATS = {"csv", "jsonl", "tf-record"}
# UpdateModelDeploymentMonitoringJobRequest's updatable fields (its own documentation).
_UPDATABLE = {
    "display_name", "model_deployment_monitoring_schedule_config",
    "model_monitoring_alert_config", "logging_sampling_strategy", "labels", "log_ttl",
    "enable_monitoring_pipeline_logs", "model_deployment_monitoring_objective_configs",
}  # fmt: skip

# gs:// URI -> the object's bytes, or None if there is no such object.
ReadObject = Callable[[str], bytes | None]


class ModelMonitoringService:
    def __init__(
        self,
        state: EmulatorState,
        operations: Operations,
        read_object: ReadObject | None = None,
        record_dir: Path | None = None,
    ):
        self._state, self._operations = state, operations
        self._read, self._record_dir = read_object, record_dir

    def rpcs(self) -> list[Rpc]:
        lro, empty = operations_pb2.Operation, empty_pb2.Empty
        return service_rpcs(SERVICE, _GAPIC, [
            ("CreateModelDeploymentMonitoringJob", v1.CreateModelDeploymentMonitoringJobRequest,
             _Job, self.create),
            ("GetModelDeploymentMonitoringJob", v1.GetModelDeploymentMonitoringJobRequest, _Job,
             self.get),
            ("ListModelDeploymentMonitoringJobs", v1.ListModelDeploymentMonitoringJobsRequest,
             v1.ListModelDeploymentMonitoringJobsResponse, self.list),
            ("UpdateModelDeploymentMonitoringJob", v1.UpdateModelDeploymentMonitoringJobRequest,
             lro, self.update),
            ("DeleteModelDeploymentMonitoringJob", v1.DeleteModelDeploymentMonitoringJobRequest,
             lro, self.delete),
            ("PauseModelDeploymentMonitoringJob", v1.PauseModelDeploymentMonitoringJobRequest,
             empty, self.pause),
            ("ResumeModelDeploymentMonitoringJob", v1.ResumeModelDeploymentMonitoringJobRequest,
             empty, self.resume),
        ])  # fmt: skip

    def create(self, request: v1.CreateModelDeploymentMonitoringJobRequest) -> _Job:
        parent = names.check_parent(request.parent, self._state.parent)
        job = _Job(request.model_deployment_monitoring_job)
        with self._state.lock:
            self._check(job)
            taken = [j.name for j in self._jobs(parent) if j.endpoint == job.endpoint]
            if taken:
                raise ApiError(
                    grpc.StatusCode.FAILED_PRECONDITION,
                    f"{job.endpoint} already has the model deployment monitoring job {taken[0]}: "
                    "update it, or delete it first.",
                )
            job.name = f"{parent}/{_JOBS}/{self._state.new_id()}"
            job.create_time = job.update_time = now()
            job.state = v1.JobState.JOB_STATE_RUNNING
            job.schedule_state = _Job.MonitoringScheduleState.PENDING
            endpoint_id = names.resource_id(job.endpoint)
            job.bigquery_tables = [
                v1.ModelDeploymentMonitoringBigQueryTable(
                    log_source=v1.ModelDeploymentMonitoringBigQueryTable.LogSource.SERVING,
                    log_type=v1.ModelDeploymentMonitoringBigQueryTable.LogType.PREDICT,
                    bigquery_table_path=f"bq://{self._state.project}.model_deployment_"
                    f"monitoring_{endpoint_id}.serving_predict",
                )
            ]
            self._state.add(job.name, job)
            self._record(job)
            created = _Job(job)
        created.state = v1.JobState.JOB_STATE_PENDING  # as Vertex answers a create
        return created

    def get(self, request: v1.GetModelDeploymentMonitoringJobRequest) -> _Job:
        name = names.check_name(request.name, _JOBS, self._state.parent)
        with self._state.lock:
            return _Job(self._state.get(name, _KIND))

    def list(
        self, request: v1.ListModelDeploymentMonitoringJobsRequest
    ) -> v1.ListModelDeploymentMonitoringJobsResponse:
        parent = names.check_parent(request.parent, self._state.parent)
        with self._state.lock:
            jobs = [_Job(j) for j in self._jobs(parent)]
        return v1.ListModelDeploymentMonitoringJobsResponse(
            model_deployment_monitoring_jobs=matching(jobs, request.filter, "create_time")
        )

    def update(self, request: v1.UpdateModelDeploymentMonitoringJobRequest):
        wanted = request.model_deployment_monitoring_job
        name = names.check_name(wanted.name, _JOBS, self._state.parent)
        paths = list(request.update_mask.paths)
        refused = sorted({p.split(".")[0] for p in paths} - _UPDATABLE)
        if not paths or refused:
            raise invalid(
                f"update_mask {paths} must name updatable fields; {refused or 'none'} are not "
                f"(updatable: {', '.join(sorted(_UPDATABLE))})."
            )
        with self._state.lock:
            job = _Job(self._state.get(name, _KIND))
            for path in {p.split(".")[0] for p in paths}:
                setattr(job, path, getattr(wanted, path))
            self._check(job)
            job.update_time = now()
            self._state.resources[name] = job
            self._record(job)
            updated = _Job(job)
        return self._operations.run(name, lambda: updated)

    def delete(self, request: v1.DeleteModelDeploymentMonitoringJobRequest):
        name = names.check_name(request.name, _JOBS, self._state.parent)
        self._state.delete(name, _KIND)
        if self._record_dir is not None:
            (self._record_dir / f"{names.resource_id(name)}.json").unlink(missing_ok=True)
        return self._operations.run(name, empty_pb2.Empty)

    def pause(self, request: v1.PauseModelDeploymentMonitoringJobRequest) -> empty_pb2.Empty:
        self._set_state(request.name, v1.JobState.JOB_STATE_PAUSED)
        return empty_pb2.Empty()

    def resume(self, request: v1.ResumeModelDeploymentMonitoringJobRequest) -> empty_pb2.Empty:
        self._set_state(request.name, v1.JobState.JOB_STATE_RUNNING)
        return empty_pb2.Empty()

    def _set_state(self, name: str, state: v1.JobState) -> None:
        names.check_name(name, _JOBS, self._state.parent)
        with self._state.lock:
            job = self._state.get(name, _KIND)
            job.state = state
            job.update_time = now()
            self._record(job)

    def _jobs(self, parent: str) -> list[_Job]:
        return self._state.children(parent, _JOBS)

    def _record(self, job: _Job) -> None:
        if self._record_dir is None:
            return
        self._record_dir.mkdir(parents=True, exist_ok=True)
        path = self._record_dir / f"{names.resource_id(job.name)}.json"
        path.write_text(_Job.to_json(job) + "\n")

    def _check(self, job: _Job) -> None:
        """INVALID_ARGUMENT (or NOT_FOUND for the endpoint) for what Vertex refuses."""
        check_display_name(job.display_name, _KIND)
        names.check_name(job.endpoint, "endpoints", self._state.parent)
        endpoint = self._state.get(job.endpoint, "Endpoint")
        deployed = {m.id for m in endpoint.deployed_models}
        configs = job.model_deployment_monitoring_objective_configs
        if not configs:
            raise invalid("model_deployment_monitoring_objective_configs is required.")
        watched: set[str] = set()
        for config in configs:
            if config.deployed_model_id not in deployed:
                raise invalid(
                    f"DeployedModel {config.deployed_model_id!r} is not deployed on "
                    f"{job.endpoint} (deployed: {sorted(deployed) or 'none'})."
                )
            watched |= _check_objective(config.objective_config, config.deployed_model_id)
        rate = job.logging_sampling_strategy.random_sample_config.sample_rate
        if not 0 < rate <= 1:
            raise invalid(f"logging_sampling_strategy sample_rate {rate} must be in (0, 1].")
        interval = job.model_deployment_monitoring_schedule_config.monitor_interval
        if interval.total_seconds() < 3600:
            raise invalid(
                f"monitor_interval {interval.total_seconds():g} s is below the minimum of 1 hour."
            )
        for email in job.model_monitoring_alert_config.email_alert_config.user_emails:
            if not _EMAIL.match(email):
                raise invalid(f"user_emails has {email!r}, which is not an email address.")
        if job.analysis_instance_schema_uri:
            self._check_schema(job.analysis_instance_schema_uri, watched)
        for config in configs:
            dataset = config.objective_config.training_dataset
            if dataset.data_format == "csv" and dataset.gcs_source.uris:
                self._check_csv_header(dataset.gcs_source.uris[0], watched)

    def _check_schema(self, uri: str, watched: set[str]) -> None:
        check_gcs_uri(uri, "analysis_instance_schema_uri")
        text = self._object(uri, "analysis_instance_schema_uri")
        if text is None:
            return
        try:
            schema = yaml.safe_load(text)
        except yaml.YAMLError as error:
            raise invalid(f"analysis_instance_schema_uri {uri} is not YAML: {error}") from None
        if not isinstance(schema, dict) or schema.get("type") not in {"object", "array", "string"}:
            raise invalid(f"{uri}: the schema's type must be object, array or string.")
        properties = schema.get("properties")
        if not isinstance(properties, dict) or not properties:
            raise invalid(f"{uri}: the schema has no properties (the instance's features).")
        missing = sorted(watched - set(properties))
        if missing:
            raise invalid(f"Thresholds name features {missing} that {uri} does not have.")

    def _check_csv_header(self, uri: str, watched: set[str]) -> None:
        text = self._object(uri, "training_dataset.gcs_source")
        if text is None:
            return
        header = {name.strip() for name in text.splitlines()[0].split(",")} if text else set()
        missing = sorted(watched - header)
        if missing:
            raise invalid(f"The training dataset {uri} has no column for {missing}.")

    def _object(self, uri: str, field: str) -> str | None:
        if self._read is None:
            return None
        data = self._read(uri)
        if data is None:
            raise invalid(f"{field} {uri}: no such object in Cloud Storage.")
        return data.decode("utf-8", errors="replace")


def _check_objective(config: v1.ModelMonitoringObjectiveConfig, deployed_id: str) -> set[str]:
    """The features the objective sets thresholds for; INVALID_ARGUMENT for a bad one."""
    skew = config.training_prediction_skew_detection_config
    drift = config.prediction_drift_detection_config
    has_skew = "training_prediction_skew_detection_config" in config
    if not has_skew and "prediction_drift_detection_config" not in config:
        raise invalid(f"The objective of {deployed_id} detects neither skew nor drift.")
    thresholds = {**skew.skew_thresholds, **drift.drift_thresholds}
    if "default_skew_threshold" in skew:
        thresholds["default"] = skew.default_skew_threshold
    for feature, threshold in thresholds.items():
        if not 0 <= threshold.value <= 1:
            raise invalid(
                f"The threshold of {feature!r} is {threshold.value}: distances are from 0 to 1."
            )
    if has_skew:
        dataset = config.training_dataset
        sources = [s for s in ("dataset", "gcs_source", "bigquery_source") if s in dataset]
        if not sources:
            raise invalid(f"Skew detection of {deployed_id} needs a training_dataset source.")
        for uri in dataset.gcs_source.uris:
            check_gcs_uri(uri, "training_dataset.gcs_source.uris")
        if "gcs_source" in dataset and dataset.data_format not in _FORMATS:
            raise invalid(
                f"training_dataset.data_format {dataset.data_format!r} must be one of "
                f"{', '.join(sorted(_FORMATS))}."
            )
    return set(skew.skew_thresholds) | set(drift.drift_thresholds)


def recorded_jobs(record_dir: Path) -> list[dict]:
    """The jobs written to `record_dir`, as protojson dicts (oldest id first)."""
    paths = sorted(record_dir.glob("*.json"), key=lambda p: int(p.stem))
    return [json.loads(p.read_text()) for p in paths]
