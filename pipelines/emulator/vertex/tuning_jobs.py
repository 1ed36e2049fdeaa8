"""JobService's HyperparameterTuningJobs: each trial a custom job of local processes, under Optuna.

Create answers at once with the job PENDING, as Vertex does; the study then runs in a
thread on the project's local study runner (trainer.tuning.study, Optuna standing in for
Vertex's Vizier algorithms; its journal in <home>/tuning/<job id>/). Each trial runs the
trial job spec's worker pools as replicas.py runs a custom job's, with the trial's values
appended to the container args as Vertex appends them (`--<parameter_id>=<value>`),
CLOUD_ML_TRIAL_ID set, the base output directory <dir>/<trial id>/, and
CLOUD_ML_HP_METRIC_FILE naming the trial's own metric file (on Vertex each trial has
its own container, so the default path is its own). The metric is read from there
(trainer.tuning.metric_report). The job's `trials` fill in as they run, as Vertex shows
them: ACTIVE, then SUCCEEDED with a final_measurement or INFEASIBLE with the reason. The
job fails when every trial failed or max_failed_trial_count (if set) were reached.
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
from pipelines.emulator.vertex.replicas import ReplicaFailed, run_replicas
from pipelines.emulator.vertex.state import EmulatorState, now
from pipelines.emulator.vertex.tuning_validation import check_tuning_job
from serving.contracts.errors import InputError
from trainer.tuning.metric_report import (
    METRIC_FILE_NAME,
    METRIC_FILE_VAR,
    TRIAL_ID_VAR,
    read_metric,
)
from trainer.tuning.space import Parameter
from trainer.tuning.study import StudySpec, TrialFailed, run_study

SERVICE = "google.cloud.aiplatform.v1.JobService"
_GAPIC = "google.cloud.aiplatform_v1.services.job_service"
_KIND = "hyperparameterTuningJobs"
_S = v1.JobState
_T = v1.Trial.State
_FINAL = {_S.JOB_STATE_SUCCEEDED, _S.JOB_STATE_FAILED, _S.JOB_STATE_CANCELLED}
_GOALS = {v1.StudySpec.MetricSpec.GoalType.MAXIMIZE: "maximize"}
_Job = v1.HyperparameterTuningJob


class TuningJobService:
    def __init__(
        self,
        state: EmulatorState,
        environment: Callable[[], Mapping[str, str]],
        home: Path,
        before_trial: Callable[[], None],
        after_trial: Callable[[], None],
        say: Callable[[str], None],
    ):
        self._state, self._environment, self._home = state, environment, home
        self._before, self._after, self._say = before_trial, after_trial, say
        self._cancel: dict[str, threading.Event] = {}

    def rpcs(self) -> list[Rpc]:
        return service_rpcs(
            SERVICE,
            _GAPIC,
            [
                ("CreateHyperparameterTuningJob", v1.CreateHyperparameterTuningJobRequest, _Job,
                 self.create),
                ("GetHyperparameterTuningJob", v1.GetHyperparameterTuningJobRequest, _Job,
                 self.get),
                ("ListHyperparameterTuningJobs", v1.ListHyperparameterTuningJobsRequest,
                 v1.ListHyperparameterTuningJobsResponse, self.list),
                ("CancelHyperparameterTuningJob", v1.CancelHyperparameterTuningJobRequest,
                 empty_pb2.Empty, self.cancel),
            ],
        )  # fmt: skip

    def create(self, request: v1.CreateHyperparameterTuningJobRequest) -> _Job:
        parent = names.check_parent(request.parent, self._state.parent)
        job = _Job(request.hyperparameter_tuning_job)
        check_tuning_job(job)
        job.name = f"{parent}/{_KIND}/{self._state.new_id()}"
        job.state = _S.JOB_STATE_PENDING
        job.create_time = job.update_time = now()
        self._state.add(job.name, job)
        self._cancel[job.name] = threading.Event()
        created = _Job(job)
        threading.Thread(target=self._run, args=(job.name,), daemon=True).start()
        return created

    def get(self, request: v1.GetHyperparameterTuningJobRequest) -> _Job:
        name = names.check_name(request.name, _KIND, self._state.parent)
        with self._state.lock:
            return _Job(self._state.get(name, "HyperparameterTuningJob"))

    def list(
        self, request: v1.ListHyperparameterTuningJobsRequest
    ) -> v1.ListHyperparameterTuningJobsResponse:
        parent = names.check_parent(request.parent, self._state.parent)
        with self._state.lock:
            jobs = [_Job(j) for j in self._state.children(parent, _KIND)]
        return v1.ListHyperparameterTuningJobsResponse(
            hyperparameter_tuning_jobs=matching(jobs, request.filter, "create_time")
        )

    def cancel(self, request: v1.CancelHyperparameterTuningJobRequest) -> empty_pb2.Empty:
        name = names.check_name(request.name, _KIND, self._state.parent)
        with self._state.lock:
            job = self._state.get(name, "HyperparameterTuningJob")
            if job.state in _FINAL:
                raise ApiError(
                    grpc.StatusCode.FAILED_PRECONDITION,
                    f"Cannot cancel {name}: it is already {job.state.name}.",
                )
            self._update(name, state=_S.JOB_STATE_CANCELLING)
            self._cancel[name].set()
        return empty_pb2.Empty()

    def _run(self, name: str) -> None:
        job = self._update(name, state=_S.JOB_STATE_RUNNING, start=True)
        job_id = names.resource_id(name)
        self._say(
            f"Tuning job {job.display_name} ({name}): {job.max_trial_count} trials, "
            f"{job.parallel_trial_count} at a time, as local processes; logs in "
            f"{self._home / 'tuning' / job_id}"
        )
        error = ""
        try:
            run_study(_study_spec(job), self._home / "tuning" / job_id, self._launch(name, job))
        except InputError as failure:  # every trial failed
            error = str(failure)
        except Exception as failure:  # an emulator fault still ends the job, with its reason
            error = f"The emulator could not run the study: {failure!r}"
        failed = sum(t.state == _T.INFEASIBLE for t in self._job(name).trials)
        limit = job.max_failed_trial_count
        if not error and limit and failed >= limit:
            error = f"{failed} trials failed, and max_failed_trial_count is {limit}."
        if self._cancel[name].is_set():
            self._update(name, state=_S.JOB_STATE_CANCELLED)
        elif error:
            self._update(name, state=_S.JOB_STATE_FAILED, error=error)
        else:
            self._update(name, state=_S.JOB_STATE_SUCCEEDED)

    def _launch(self, name: str, job: _Job):
        metric = job.study_spec.metrics[0].metric_id
        spec = job.trial_job_spec
        prefix = spec.base_output_directory.output_uri_prefix.rstrip("/")

        def launch(trial_id: str, values: dict, directory: Path) -> float:
            if self._cancel[name].is_set():
                raise TrialFailed("the job was cancelled")
            self._trial(name, v1.Trial(id=trial_id, state=_T.ACTIVE, start_time=now(),
                                       parameters=_trial_parameters(values)))  # fmt: skip
            trial_job = v1.CustomJob(display_name=f"{job.display_name}-trial-{trial_id}")
            trial_job.name = f"{name}/trials/{trial_id}"
            trial_job.job_spec = v1.CustomJobSpec(spec)
            if prefix:
                trial_job.job_spec.base_output_directory.output_uri_prefix = f"{prefix}/{trial_id}"
            for pool in trial_job.job_spec.worker_pool_specs:
                pool.container_spec.args.extend(f"--{k}={_text(v)}" for k, v in values.items())
            metric_file = directory / METRIC_FILE_NAME
            env = {**self._environment(), TRIAL_ID_VAR: trial_id, METRIC_FILE_VAR: str(metric_file)}
            try:
                self._before()
                run_replicas(trial_job, env, directory, self._cancel[name])
                self._after()
            except ReplicaFailed as failure:
                self._end_trial(name, trial_id, reason=str(failure))
                raise TrialFailed(str(failure)) from None
            value = read_metric(metric_file, metric)
            if value is None:
                reason = f"The trial reported no {metric} (cloudml-hypertune) to {metric_file}."
                self._end_trial(name, trial_id, reason=reason)
                raise TrialFailed(reason)
            self._end_trial(name, trial_id, metric=metric, value=value)
            return value

        return launch

    def _trial(self, name: str, trial: v1.Trial) -> None:
        with self._state.lock:
            self._job(name).trials.append(trial)

    def _end_trial(
        self, name: str, trial_id: str, metric: str = "", value: float = 0, reason: str = ""
    ) -> None:
        with self._state.lock:
            for trial in self._job(name).trials:
                if trial.id == trial_id:
                    trial.end_time = now()
                    if reason:
                        trial.state, trial.infeasible_reason = _T.INFEASIBLE, reason
                    else:
                        trial.state = _T.SUCCEEDED
                        trial.final_measurement = v1.Measurement(
                            step_count=1, metrics=[{"metric_id": metric, "value": value}]
                        )

    def _job(self, name: str) -> _Job:
        return self._state.get(name, "HyperparameterTuningJob")

    def _update(self, name: str, state: v1.JobState, start: bool = False, error: str = "") -> _Job:
        with self._state.lock:
            job = self._job(name)
            job.state = state
            job.update_time = now()
            if start:
                job.start_time = job.update_time
            if state in _FINAL:
                job.end_time = job.update_time
            if error:
                job.error = {"code": grpc.StatusCode.UNKNOWN.value[0], "message": error}
            return _Job(job)


def _study_spec(job: _Job) -> StudySpec:
    """The local runner's study of a job's StudySpec (Optuna's samplers for Vertex's algorithms)."""
    metric = job.study_spec.metrics[0]
    parameters = {p.parameter_id: _parameter(p) for p in job.study_spec.parameters}
    return StudySpec(
        metric=metric.metric_id,
        goal=_GOALS.get(metric.goal, "minimize"),
        parameters=parameters,
        max_trials=job.max_trial_count,
        parallel_trials=job.parallel_trial_count,
        algorithm=job.study_spec.algorithm.name,
    )


def _parameter(spec: v1.StudySpec.ParameterSpec) -> Parameter:
    name = spec.parameter_id
    log = spec.scale_type == v1.StudySpec.ParameterSpec.ScaleType.UNIT_LOG_SCALE
    if "categorical_value_spec" in spec:
        return Parameter(name, str, values=tuple(spec.categorical_value_spec.values))
    if "discrete_value_spec" in spec:
        return Parameter(name, float, values=tuple(spec.discrete_value_spec.values))
    kind, values = (
        (int, spec.integer_value_spec)
        if "integer_value_spec" in spec
        else (float, spec.double_value_spec)
    )
    scale = "log" if log else "linear"
    return Parameter(name, kind, low=values.min_value, high=values.max_value, scale=scale)


def _trial_parameters(values: dict) -> list[v1.Trial.Parameter]:
    return [v1.Trial.Parameter(parameter_id=k, value=v) for k, v in values.items()]


def _text(value: object) -> str:
    """A trial value as Vertex writes it in the args: whole numbers without a fraction."""
    if isinstance(value, float) and value.is_integer():
        return str(int(value))
    return str(value)
