"""PipelineService: pipeline runs, executed one at a time by the emulator's orchestrator.

CreatePipelineJob checks the run as Vertex does (a pipeline spec, a gs://
pipeline root, parameters the spec declares, typed as declared), answers
PENDING, and queues the run; `run_job` (the orchestrator, given by the
emulator) executes it and the state follows: RUNNING, SUCCEEDED or FAILED
with the failed task's error.
"""

from __future__ import annotations

import queue
import re
import threading
from collections.abc import Callable

import grpc
from google.cloud import aiplatform_v1 as v1
from google.protobuf import empty_pb2, json_format

from pipelines.emulator.formats import PIPELINE_JOB_ID
from pipelines.emulator.rpc.rpc import ApiError, Rpc, service_rpcs
from pipelines.emulator.vertex import names
from pipelines.emulator.vertex.listing import matching
from pipelines.emulator.vertex.state import EmulatorState, now
from pipelines.emulator.vertex.validation import check_gcs_uri, invalid

SERVICE = "google.cloud.aiplatform.v1.PipelineService"
_GAPIC = "google.cloud.aiplatform_v1.services.pipeline_service"
_S = v1.PipelineState
_TYPES = {
    "STRING": (str,),
    "NUMBER_INTEGER": (int,),
    "NUMBER_DOUBLE": (int, float),
    "BOOLEAN": (bool,),
    "STRUCT": (dict,),
    "LIST": (list,),
}

# (pipeline job, its spec as a dict, its parameter values) -> None; raises to fail the run.
RunJob = Callable[[v1.PipelineJob, dict, dict], None]


class PipelineService:
    def __init__(self, state: EmulatorState, run_job: RunJob, say: Callable[[str], None]):
        self._state, self._run_job, self._say = state, run_job, say
        self._queue: queue.Queue[str] = queue.Queue()
        self.finished = threading.Condition(state.lock)
        threading.Thread(target=self._worker, daemon=True).start()

    def rpcs(self) -> list[Rpc]:
        return service_rpcs(SERVICE, _GAPIC, [
            ("CreatePipelineJob", v1.CreatePipelineJobRequest, v1.PipelineJob, self.create),
            ("GetPipelineJob", v1.GetPipelineJobRequest, v1.PipelineJob, self.get),
            (
                "ListPipelineJobs", v1.ListPipelineJobsRequest, v1.ListPipelineJobsResponse,
                self.list,
            ),
            ("CancelPipelineJob", v1.CancelPipelineJobRequest, empty_pb2.Empty, self.cancel),
        ])  # fmt: skip

    def create(self, request: v1.CreatePipelineJobRequest) -> v1.PipelineJob:
        parent = names.check_parent(request.parent, self._state.parent)
        job = v1.PipelineJob(request.pipeline_job)
        job_id = request.pipeline_job_id or f"{_spec_name(job)}-{self._state.new_id()}"
        if not PIPELINE_JOB_ID.match(job_id):
            raise invalid(f"pipeline_job_id {job_id!r} must match [a-z0-9][a-z0-9-]{{0,127}}.")
        _check_run(job)
        job.name = f"{parent}/pipelineJobs/{job_id}"
        job.display_name = job.display_name or job_id
        job.state = _S.PIPELINE_STATE_PENDING
        job.create_time = job.update_time = now()
        self._state.add(job.name, job)
        self._queue.put(job.name)
        return v1.PipelineJob(job)

    def get(self, request: v1.GetPipelineJobRequest) -> v1.PipelineJob:
        name = names.check_name(request.name, "pipelineJobs", self._state.parent)
        with self._state.lock:
            return v1.PipelineJob(self._state.get(name, "PipelineJob"))

    def list(self, request: v1.ListPipelineJobsRequest) -> v1.ListPipelineJobsResponse:
        parent = names.check_parent(request.parent, self._state.parent)
        with self._state.lock:
            jobs = [v1.PipelineJob(j) for j in self._state.children(parent, "pipelineJobs")]
        return v1.ListPipelineJobsResponse(
            pipeline_jobs=matching(jobs, request.filter, request.order_by)
        )

    def cancel(self, request: v1.CancelPipelineJobRequest) -> empty_pb2.Empty:
        name = names.check_name(request.name, "pipelineJobs", self._state.parent)
        with self._state.lock:
            job = self._state.get(name, "PipelineJob")
            if job.state != _S.PIPELINE_STATE_PENDING:
                raise ApiError(
                    grpc.StatusCode.FAILED_PRECONDITION,
                    f"{name} is {job.state.name}: the emulator cancels only runs that have not "
                    "started (a running one finishes its current step first on Vertex too).",
                )
            self._finish(job, _S.PIPELINE_STATE_CANCELLED)
        return empty_pb2.Empty()

    def wait(self, name: str, timeout_s: float) -> v1.PipelineJob:
        """Block until the run has ended (or the timeout passed); returns it."""
        with self.finished:
            self.finished.wait_for(
                lambda: self._state.get(name, "PipelineJob").end_time, timeout=timeout_s
            )
            return v1.PipelineJob(self._state.get(name, "PipelineJob"))

    def _worker(self) -> None:
        while True:
            name = self._queue.get()
            with self._state.lock:
                job = self._state.get(name, "PipelineJob")
                if job.state != _S.PIPELINE_STATE_PENDING:
                    continue
                job.state = _S.PIPELINE_STATE_RUNNING
                job.start_time = job.update_time = now()
                snapshot = v1.PipelineJob(job)
            self._say(f"Pipeline run {name}: running")
            try:
                spec = json_format.MessageToDict(snapshot._pb.pipeline_spec)
                self._run_job(snapshot, spec, _typed_values(spec, snapshot))
                state, error = _S.PIPELINE_STATE_SUCCEEDED, ""
            except Exception as failure:  # the run fails with its reason; the emulator goes on
                state, error = _S.PIPELINE_STATE_FAILED, str(failure) or repr(failure)
            with self._state.lock:
                self._finish(self._state.get(name, "PipelineJob"), state, error)
            self._say(f"Pipeline run {name}: {state.name}")

    def _finish(self, job: v1.PipelineJob, state: v1.PipelineState, error: str = "") -> None:
        job.state = state
        job.end_time = job.update_time = now()
        if error:
            job.error = {"code": grpc.StatusCode.UNKNOWN.value[0], "message": error}
        self.finished.notify_all()


def _typed_values(spec: dict, job: v1.PipelineJob) -> dict:
    """The run's parameter values as the spec declares them: protojson numbers are doubles,
    and Vertex hands a NUMBER_INTEGER parameter to its steps as an integer."""
    values = json_format.MessageToDict(job._pb.runtime_config).get("parameterValues", {})
    declared = spec["root"].get("inputDefinitions", {}).get("parameters", {})
    return {
        name: int(value)
        if declared.get(name, {}).get("parameterType") == "NUMBER_INTEGER"
        else value
        for name, value in values.items()
    }


def _spec_name(job: v1.PipelineJob) -> str:
    name = job.pipeline_spec.get("pipelineInfo", {}).get("name", "pipeline")
    return re.sub(r"[^a-z0-9-]", "-", str(name).lower())[:100]


def _check_run(job: v1.PipelineJob) -> None:
    spec = json_format.MessageToDict(job._pb.pipeline_spec)
    if not spec.get("root"):
        raise invalid("pipeline_spec is required (the compiled pipeline YAML as JSON).")
    root = job.runtime_config.gcs_output_directory or spec.get("defaultPipelineRoot", "")
    if not root:
        raise invalid("runtime_config.gcs_output_directory (the pipeline root) is required.")
    check_gcs_uri(root, "runtime_config.gcs_output_directory")
    declared = spec["root"].get("inputDefinitions", {}).get("parameters", {})
    values = json_format.MessageToDict(job._pb.runtime_config).get("parameterValues", {})
    unknown = sorted(set(values) - set(declared))
    if unknown:
        raise invalid(f"The pipeline has no parameter {', '.join(unknown)}.")
    for name, declaration in declared.items():
        if name not in values:
            if "defaultValue" not in declaration and not declaration.get("isOptional"):
                raise invalid(f"The pipeline parameter {name} is required and has no value.")
            continue
        value, kind = values[name], declaration.get("parameterType", "STRING")
        if kind == "NUMBER_INTEGER" and isinstance(value, float) and value.is_integer():
            continue  # protojson numbers are doubles: 3 arrives as 3.0
        if isinstance(value, bool) != (kind == "BOOLEAN") or not isinstance(value, _TYPES[kind]):
            raise invalid(f"The pipeline parameter {name} is a {kind}; got {value!r}.")
