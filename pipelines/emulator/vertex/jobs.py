"""JobService: custom jobs, run as local processes (replicas.py), with Vertex AI's states.

CreateCustomJob answers at once with the job PENDING, as Vertex does; the
job then runs in a thread: RUNNING, then SUCCEEDED, FAILED (error = the
failed replica's status and log tail) or CANCELLED.
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
from pipelines.emulator.vertex.listing import matching
from pipelines.emulator.vertex.operations import Operations
from pipelines.emulator.vertex.replicas import ReplicaFailed, run_replicas
from pipelines.emulator.vertex.state import EmulatorState, now
from pipelines.emulator.vertex.validation import check_custom_job

SERVICE = "google.cloud.aiplatform.v1.JobService"
_GAPIC = "google.cloud.aiplatform_v1.services.job_service"
_S = v1.JobState
_FINAL = {_S.JOB_STATE_SUCCEEDED, _S.JOB_STATE_FAILED, _S.JOB_STATE_CANCELLED}


class JobService:
    def __init__(
        self,
        state: EmulatorState,
        operations: Operations,
        environment: Callable[[], Mapping[str, str]],
        log_dir: Path,
        before_job: Callable[[], None],
        after_job: Callable[[], None],
        say: Callable[[str], None],
    ):
        self._state, self._operations = state, operations
        self._environment, self._log_dir = environment, log_dir
        self._before, self._after, self._say = before_job, after_job, say
        self._cancel: dict[str, threading.Event] = {}

    def rpcs(self) -> list[Rpc]:
        return service_rpcs(
            SERVICE,
            _GAPIC,
            [
                ("CreateCustomJob", v1.CreateCustomJobRequest, v1.CustomJob, self.create),
                ("GetCustomJob", v1.GetCustomJobRequest, v1.CustomJob, self.get),
                ("ListCustomJobs", v1.ListCustomJobsRequest, v1.ListCustomJobsResponse, self.list),
                ("CancelCustomJob", v1.CancelCustomJobRequest, empty_pb2.Empty, self.cancel),
            ],
        )

    def create(self, request: v1.CreateCustomJobRequest) -> v1.CustomJob:
        parent = names.check_parent(request.parent, self._state.parent)
        job = v1.CustomJob(request.custom_job)
        check_custom_job(job)
        job.name = f"{parent}/customJobs/{self._state.new_id()}"
        job.state = _S.JOB_STATE_PENDING
        job.create_time = job.update_time = now()
        self._state.add(job.name, job)
        self._cancel[job.name] = threading.Event()
        created = v1.CustomJob(job)
        threading.Thread(target=self._run, args=(job.name,), daemon=True).start()
        return created

    def get(self, request: v1.GetCustomJobRequest) -> v1.CustomJob:
        name = names.check_name(request.name, "customJobs", self._state.parent)
        with self._state.lock:
            return v1.CustomJob(self._state.get(name, "CustomJob"))

    def list(self, request: v1.ListCustomJobsRequest) -> v1.ListCustomJobsResponse:
        parent = names.check_parent(request.parent, self._state.parent)
        with self._state.lock:
            jobs = [v1.CustomJob(j) for j in self._state.children(parent, "customJobs")]
        return v1.ListCustomJobsResponse(
            custom_jobs=matching(jobs, request.filter, "create_time")  # it takes no order_by
        )

    def cancel(self, request: v1.CancelCustomJobRequest) -> empty_pb2.Empty:
        name = names.check_name(request.name, "customJobs", self._state.parent)
        with self._state.lock:
            job = self._state.get(name, "CustomJob")
            if job.state in _FINAL:
                raise ApiError(
                    grpc.StatusCode.FAILED_PRECONDITION,
                    f"Cannot cancel {name}: it is already {job.state.name}.",
                )
            self._set(name, _S.JOB_STATE_CANCELLING)
            self._cancel[name].set()
        return empty_pb2.Empty()

    def names(self) -> set[str]:
        with self._state.lock:
            return {j.name for j in self._state.children(self._state.parent, "customJobs")}

    def failed(self, names: set[str]) -> list[v1.CustomJob]:
        """The jobs among `names` that failed, with their errors."""
        with self._state.lock:
            return [
                v1.CustomJob(self._state.resources[n])
                for n in sorted(names)
                if self._state.resources[n].state == _S.JOB_STATE_FAILED
            ]

    def _run(self, name: str) -> None:
        with self._state.lock:
            if self._cancel[name].is_set():  # cancelled before it started
                self._set(name, _S.JOB_STATE_CANCELLED)
                return
            job = self._set(name, _S.JOB_STATE_RUNNING, start=True)
        label = job.display_name or names.resource_id(name)
        logs = self._log_dir / names.resource_id(name)
        self._say(f"Custom job {label} ({name}): {_replica_summary(job)}; logs in {logs}")
        try:
            self._before()
            run_replicas(job, self._environment(), logs, self._cancel[name])
            self._after()
        except ReplicaFailed as failure:
            self._set(name, _S.JOB_STATE_FAILED, error=str(failure))
            return
        except Exception as error:  # an emulator fault still ends the job, with its reason
            self._set(name, _S.JOB_STATE_FAILED, error=f"The emulator could not run it: {error!r}")
            return
        cancelled = self._cancel[name].is_set()
        self._set(name, _S.JOB_STATE_CANCELLED if cancelled else _S.JOB_STATE_SUCCEEDED)

    def _set(
        self, name: str, state: v1.JobState, start: bool = False, error: str = ""
    ) -> v1.CustomJob:
        with self._state.lock:
            job = self._state.get(name, "CustomJob")
            job.state = state
            job.update_time = now()
            if start:
                job.start_time = job.update_time
            if state in _FINAL:
                job.end_time = job.update_time
            if error:
                job.error = {"code": grpc.StatusCode.UNKNOWN.value[0], "message": error}
            return v1.CustomJob(job)


def _replica_summary(job: v1.CustomJob) -> str:
    pools = [
        f"{p.replica_count} x {p.machine_spec.machine_type or 'machine'}"
        for p in job.job_spec.worker_pool_specs
    ]
    return " + ".join(pools) + " as local processes"
