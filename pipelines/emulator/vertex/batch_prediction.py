"""JobService's batch prediction jobs: checked as Vertex checks them, run as Vertex runs them.

CreateBatchPredictionJob answers at once with the job PENDING; a thread then
starts the model's serving container as a deploy does (model_servers.py, with
Vertex's AIP_* variables), sends it the instances in batches over HTTP
(batch_runner.py) and stops it: RUNNING, then SUCCEEDED with `output_info`
and `completion_stats`, FAILED (the container's or the input's error), or
CANCELLED, as Vertex does. Get, List and Cancel as for custom jobs.
"""

from __future__ import annotations

import threading
from collections.abc import Callable, Mapping
from pathlib import Path

import grpc
from google.cloud import aiplatform_v1 as v1
from google.protobuf import empty_pb2

from pipelines.emulator.rpc.rpc import ApiError, Rpc, service_rpcs
from pipelines.emulator.vertex import names
from pipelines.emulator.vertex.batch_runner import JobCancelled, run_batch_job
from pipelines.emulator.vertex.batch_validation import check_batch_prediction_job
from pipelines.emulator.vertex.listing import matching
from pipelines.emulator.vertex.model_servers import start_model_server
from pipelines.emulator.vertex.models import ModelService
from pipelines.emulator.vertex.state import EmulatorState, now
from serving.contracts.errors import InputError

SERVICE = "google.cloud.aiplatform.v1.JobService"
_GAPIC = "google.cloud.aiplatform_v1.services.job_service"
_JOBS = "batchPredictionJobs"
_KIND = "BatchPredictionJob"
_Job = v1.BatchPredictionJob
_S = v1.JobState
_FINAL = {_S.JOB_STATE_SUCCEEDED, _S.JOB_STATE_FAILED, _S.JOB_STATE_CANCELLED}


class BatchPredictionService:
    def __init__(
        self,
        state: EmulatorState,
        models: ModelService,
        environment: Callable[[], Mapping[str, str]],
        say: Callable[[str], None],
        bigquery_database: Path | None = None,
    ):
        self._state, self._models = state, models
        self._environment, self._say = environment, say
        self._database = bigquery_database
        self._cancel: dict[str, threading.Event] = {}

    def rpcs(self) -> list[Rpc]:
        return service_rpcs(
            SERVICE,
            _GAPIC,
            [
                ("CreateBatchPredictionJob", v1.CreateBatchPredictionJobRequest, _Job, self.create),
                ("GetBatchPredictionJob", v1.GetBatchPredictionJobRequest, _Job, self.get),
                (
                    "ListBatchPredictionJobs",
                    v1.ListBatchPredictionJobsRequest,
                    v1.ListBatchPredictionJobsResponse,
                    self.list,
                ),
                (
                    "CancelBatchPredictionJob",
                    v1.CancelBatchPredictionJobRequest,
                    empty_pb2.Empty,
                    self.cancel,
                ),
            ],
        )

    def create(self, request: v1.CreateBatchPredictionJobRequest) -> _Job:
        parent = names.check_parent(request.parent, self._state.parent)
        job = _Job(request.batch_prediction_job)
        check_batch_prediction_job(job)
        model = self._models.resolve(job.model)  # NOT_FOUND, as Vertex answers
        job.model_version_id = model.version_id
        job.name = f"{parent}/{_JOBS}/{self._state.new_id()}"
        job.state = _S.JOB_STATE_PENDING
        job.create_time = job.update_time = now()
        self._state.add(job.name, job)
        self._cancel[job.name] = threading.Event()
        created = _Job(job)  # as created: the thread changes the stored job
        threading.Thread(target=self._run, args=(job.name, model), daemon=True).start()
        return created

    def get(self, request: v1.GetBatchPredictionJobRequest) -> _Job:
        name = names.check_name(request.name, _JOBS, self._state.parent)
        with self._state.lock:
            return _Job(self._state.get(name, _KIND))

    def list(
        self, request: v1.ListBatchPredictionJobsRequest
    ) -> v1.ListBatchPredictionJobsResponse:
        parent = names.check_parent(request.parent, self._state.parent)
        with self._state.lock:
            jobs = [_Job(j) for j in self._state.children(parent, _JOBS)]
        return v1.ListBatchPredictionJobsResponse(
            batch_prediction_jobs=matching(jobs, request.filter, "create_time")
        )

    def cancel(self, request: v1.CancelBatchPredictionJobRequest) -> empty_pb2.Empty:
        name = names.check_name(request.name, _JOBS, self._state.parent)
        with self._state.lock:
            job = self._state.get(name, _KIND)
            if job.state in _FINAL:
                raise ApiError(
                    grpc.StatusCode.FAILED_PRECONDITION,
                    f"Cannot cancel {name}: it is already {job.state.name}.",
                )
            self._set(name, _S.JOB_STATE_CANCELLING)
            self._cancel[name].set()
        return empty_pb2.Empty()

    def _run(self, name: str, model: v1.Model) -> None:
        with self._state.lock:
            if self._cancel[name].is_set():
                self._set(name, _S.JOB_STATE_CANCELLED)
                return
            job = self._set(name, _S.JOB_STATE_RUNNING, start=True)
        job_id = names.resource_id(name)
        self._say(f"Batch prediction job {job.display_name} ({name}): {model.name}")
        try:
            server = start_model_server(model, name, job_id, self._environment())
            try:
                url = server.url + server.predict_route
                outcome = run_batch_job(
                    job, model.display_name, url, self._database, self._cancel[name]
                )
            finally:
                server.stop()
        except JobCancelled:
            self._set(name, _S.JOB_STATE_CANCELLED)
            return
        except InputError as error:  # the input cannot be read: Vertex fails the job with it
            self._set(name, _S.JOB_STATE_FAILED, error=str(error))
            return
        except Exception as error:  # the container or the emulator: the job ends with the reason
            self._set(name, _S.JOB_STATE_FAILED, error=f"{type(error).__name__}: {error}")
            return
        with self._state.lock:
            stored = self._state.get(name, _KIND)
            stored.output_info = {"gcs_output_directory": outcome.output_directory}
            stored.completion_stats = {
                "successful_count": outcome.successful,
                "failed_count": outcome.failed,
            }
        self._set(name, _S.JOB_STATE_SUCCEEDED)

    def _set(self, name: str, state: v1.JobState, start: bool = False, error: str = "") -> _Job:
        with self._state.lock:
            job = self._state.get(name, _KIND)
            job.state = state
            job.update_time = now()
            if start:
                job.start_time = job.update_time
            if state in _FINAL:
                job.end_time = job.update_time
            if error:
                job.error = {"code": grpc.StatusCode.UNKNOWN.value[0], "message": error}
            return _Job(job)
