"""Every change the emulator makes to kfp.local, for kfp 2.17.0 only, undone after each run.

kfp.local's orchestrator runs a compiled pipeline's DAG (conditions, loops,
nested DAGs, exit handlers) but is built for the local runner, not for the
IR compiled for Vertex AI. While `patched` is active it:

- runs container components too, through `Runtime.run_step` (SubprocessRunner
  refuses them, and `task_dispatcher` rebuilds its handler map from
  `subprocess_task_handler.SubprocessTaskHandler` on every call);
- fills placeholders as Vertex AI does (placeholders.py): the Vertex-only
  ones, those nested in list and struct values, `json_escape`, protojson numbers;
- keeps Vertex's storage conventions: the pipeline root stays a gs:// URI
  (`local.init` makes it an absolute local path), task roots are
  <root>/<job id>/<task>, artifacts get gs:// URIs, and every file kfp.local
  or a step opens itself (executor output, output parameters, their folders)
  is in the directory that plays Cloud Storage FUSE;
- reads every declared output artifact, not only those an executor output
  lists (a container component writes none), with its declared type, an
  importer's too (kfp.local turns google.* types into system.Artifact);
- takes the branch that ran for an artifact `dsl.OneOf`, which kfp.local
  refuses ("Expected 1 artifact ... Got: 2");
- reads a named task output in a `dsl.If` condition (kfp.local reads it as false);
- answers GCPC's email notification (an exit handler's task) as Vertex AI Pipelines does,
  without running its executor (which raises off Vertex): the notification (recipients,
  the run's final state, the failed tasks) goes to `Runtime.on_notification`;
- reports each task's start and end, and its failure with its log tail.
"""

from __future__ import annotations

import json
import shutil
import threading
import time
import traceback
import warnings
from collections.abc import Callable, Iterator, Mapping
from contextlib import ExitStack, contextmanager, nullcontext
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import kfp
from google.protobuf import json_format
from kfp import components, local
from kfp.local import (
    cache,
    config,
    executor_input_utils,
    executor_output_utils,
    importer_handler,
    logging_utils,
    placeholder_utils,
    status,
    subprocess_task_handler,
    task_handler_interface,
)
from kfp.local.orchestrator import enhanced_dag_orchestrator, task_executor
from kfp.local.orchestrator.orchestrator_utils import OrchestratorUtils

from pipelines.emulator.orchestrator.placeholders import Resolver

KFP_VERSION = "2.17.0"
LOG_TAIL_LINES = 40
NOTIFICATION_EXECUTOR = "google_cloud_pipeline_components.container.v1.vertex_notification_email"


@dataclass(frozen=True)
class StepOutcome:
    returncode: int
    log_tail: str


# (task name, image, resolved command, the container's env) -> how the process ended
RunStep = Callable[[str, str, list[str], dict[str, str]], StepOutcome]


@dataclass(frozen=True)
class Runtime:
    """What Vertex AI would provide to the run."""

    pipeline_root: str  # gs://bucket/path
    job_id: str
    fuse_root: Path  # gs://bucket/path is fuse_root/bucket/path
    constants: Mapping[str, str]  # pipeline-level placeholders ("pipeline_network") -> values
    run_step: RunStep
    on_event: Callable[[str], None]
    enable_caching: bool = False
    on_notification: Callable[[dict], None] = print  # an exit handler's email, as a record

    def local_path(self, uri: str) -> str:
        if not uri.startswith("gs://"):
            return uri
        return str(self.fuse_root / uri.removeprefix("gs://"))


@dataclass(frozen=True)
class TaskFailure:
    task: str
    log_tail: str


class _CurrentTask(threading.local):
    """The task this thread runs (kfp.local runs loop iterations in threads)."""

    name = ""
    log_tail = ""
    parameters: dict = {}  # noqa: RUF012 (per thread: the task's input parameter values)


def check_kfp_version() -> None:
    if kfp.__version__ != KFP_VERSION:
        raise RuntimeError(
            f"The Vertex AI emulator patches kfp.local {KFP_VERSION}, but kfp {kfp.__version__} "
            f"is installed: install kfp=={KFP_VERSION} (requirements.lock), or port "
            "pipelines/emulator/orchestrator/kfp_runtime.py to this version."
        )


@contextmanager
def patched(runtime: Runtime) -> Iterator[list[TaskFailure]]:
    """kfp.local set up for one run; yields the failed tasks, filled as they fail."""
    check_kfp_version()
    failures: list[TaskFailure] = []
    current = _CurrentTask()
    with ExitStack() as stack:

        def patch(owner: Any, name: str, value: Any) -> None:
            stack.callback(setattr, owner, name, owner.__dict__[name])
            setattr(owner, name, value)

        patch(
            subprocess_task_handler,
            "SubprocessTaskHandler",
            _handler(runtime, current, failures),
        )
        patch(
            placeholder_utils, "resolve_self_references_in_executor_input", _resolve_inputs(runtime)
        )
        patch(placeholder_utils, "resolve_individual_placeholder", _resolve_element(runtime))
        patch(executor_input_utils, "get_local_pipeline_resource_name", lambda _: runtime.job_id)
        patch(executor_input_utils, "construct_executor_input", _executor_input(runtime, current))
        patch(executor_output_utils, "get_outputs_for_task", _task_outputs())
        patch(importer_handler, "run_importer", _importer())
        patch(OrchestratorUtils, "get_dag_output_artifacts", classmethod(_dag_output_artifacts))
        patch(
            enhanced_dag_orchestrator.ConditionEvaluator,
            "_resolve_pipeline_channel",
            staticmethod(_condition_channel),
        )
        patch(task_executor, "execute_single_task", _observed(runtime, current, failures))
        # kfp.local's own log (each executor input and output in full) and its notes that
        # display names and Vertex-only settings have no local effect: the emulator prints one
        # line per task instead, and each task's log is a file.
        patch(logging_utils, "local_logger_context", nullcontext)
        patch(logging_utils, "print_horizontal_line", lambda: None)
        stack.enter_context(warnings.catch_warnings())
        warnings.filterwarnings("ignore", ".*have no effect in the current local runner")
        _init_config(runtime, stack)
        yield failures


def run(pipeline_spec: Mapping[str, Any], arguments: Mapping[str, Any]) -> dict[str, Any]:
    """Runs a compiled pipeline spec (inside `patched`); returns its outputs."""
    pipeline = components.load_component_from_text(json.dumps(pipeline_spec))
    return dict(pipeline(**arguments).outputs)


def _init_config(runtime: Runtime, stack: ExitStack) -> None:
    previous = config.LocalExecutionConfig.instance
    local.init(
        runner=local.SubprocessRunner(use_venv=False),
        raise_on_error=True,
        enable_caching=runtime.enable_caching,
        cache_root=runtime.local_path(f"{runtime.pipeline_root.rstrip('/')}/.kfp_cache"),
    )
    instance = config.LocalExecutionConfig.instance
    instance.pipeline_root = runtime.pipeline_root  # local.init made it os.path.abspath(...)

    def restore() -> None:
        shutil.rmtree(instance.workspace_root, ignore_errors=True)
        config.LocalExecutionConfig.instance = previous
        cache.reset_local_cache_singleton()

    stack.callback(restore)


def _handler(runtime: Runtime, current: _CurrentTask, failures: list[TaskFailure]) -> type:
    class ContainerTaskHandler(task_handler_interface.ITaskHandler):
        """Runs any container's command (lightweight or not) with `runtime.run_step`."""

        def __init__(self, image, full_command, pipeline_root, runner, env_vars=None):
            self._image, self._command, self._env = image, list(full_command), env_vars or {}

        def run(self) -> status.Status:
            if any(NOTIFICATION_EXECUTOR in part for part in self._command):
                runtime.on_notification(_notification(runtime, current, failures))
                return status.Status.SUCCESS
            outcome = runtime.run_step(current.name, self._image, self._command, dict(self._env))
            current.log_tail = outcome.log_tail
            return status.Status.SUCCESS if outcome.returncode == 0 else status.Status.FAILURE

    return ContainerTaskHandler


def _notification(runtime: Runtime, current: _CurrentTask, failures: list[TaskFailure]) -> dict:
    """What Vertex AI mails: the run, how it ended, the tasks that failed, to whom."""
    final = current.parameters.get("pipeline_task_final_status", {})
    return {
        "pipeline_job": runtime.constants.get("pipeline_job_resource_name", runtime.job_id),
        "task": current.name,
        "recipients": list(current.parameters.get("recipients", [])),
        "state": final.get("state", ""),
        "failed_tasks": [failure.task for failure in failures],
        "error": failures[0].log_tail.splitlines()[-1] if failures and failures[0].log_tail else "",
    }


def _resolver(runtime: Runtime, executor_input: dict, **names: str) -> Resolver:
    constants = {
        "pipeline_root": names["pipeline_root"],
        "pipeline_job_name": names["pipeline_resource_name"],
        "pipeline_job_uuid": names["pipeline_job_id"],
        "pipeline_task_name": names["task_resource_name"],
        "pipeline_task_uuid": names["pipeline_task_id"],
        **runtime.constants,
    }
    return Resolver(executor_input, constants, runtime.local_path)


def _resolve_inputs(runtime: Runtime) -> Callable[..., dict]:
    def resolve_self_references_in_executor_input(executor_input_dict: dict, **names) -> dict:
        resolver = _resolver(runtime, executor_input_dict, **names)
        inputs = executor_input_dict.setdefault("inputs", {})
        values = inputs.get("parameterValues", {})
        inputs["parameterValues"] = {k: resolver.parameter_value(v) for k, v in values.items()}
        return executor_input_dict

    return resolve_self_references_in_executor_input


def _resolve_element(runtime: Runtime) -> Callable[..., str]:
    def resolve_individual_placeholder(element: str, executor_input_dict: dict, **names) -> str:
        return _resolver(runtime, executor_input_dict, **names).command_text(element)

    return resolve_individual_placeholder


def _executor_input(runtime: Runtime, current: _CurrentTask) -> Callable[..., Any]:
    construct = executor_input_utils.construct_executor_input

    def construct_executor_input(**kwargs):
        executor_input = construct(**kwargs)
        inputs = json_format.MessageToDict(executor_input.inputs)
        current.parameters = inputs.get("parameterValues", {})
        outputs = executor_input.outputs
        outputs.output_file = runtime.local_path(outputs.output_file)
        files = [outputs.output_file]
        for parameter in outputs.parameters.values():
            parameter.output_file = runtime.local_path(parameter.output_file)
            files.append(parameter.output_file)
        for artifacts in outputs.artifacts.values():
            files.extend(runtime.local_path(a.uri) for a in artifacts.artifacts)
        for file in files:  # Vertex's launcher makes them; Cloud Storage has no folders
            Path(file).parent.mkdir(parents=True, exist_ok=True)
        return executor_input

    return construct_executor_input


def _task_outputs() -> Callable[..., dict[str, Any]]:
    read = executor_output_utils.get_outputs_for_task

    def get_outputs_for_task(executor_input, component_spec) -> dict[str, Any]:
        outputs = read(executor_input=executor_input, component_spec=component_spec)
        declared = component_spec.output_definitions.artifacts
        for name, artifact_list in executor_input.outputs.artifacts.items():
            if name not in outputs:
                outputs[name] = executor_output_utils.artifact_list_to_dsl_artifact(
                    artifact_list, is_artifact_list=declared[name].is_artifact_list
                )
            schema = artifact_list.artifacts[0].type
            produced = outputs[name] if isinstance(outputs[name], list) else [outputs[name]]
            for artifact in produced:
                artifact.schema_title = schema.schema_title
                artifact.schema_version = schema.schema_version
        return outputs

    return get_outputs_for_task


def _importer() -> Callable[..., tuple[dict[str, Any], status.Status]]:
    run_importer = importer_handler.run_importer

    def run_typed_importer(**kwargs) -> tuple[dict[str, Any], status.Status]:
        with warnings.catch_warnings():  # steps here do read gs:// URIs, at their FUSE path
            warnings.filterwarnings("ignore", "It looks like you're using the remote file")
            outputs, task_status = run_importer(**kwargs)
        schema = kwargs["executor_spec"].importer.type_schema
        for artifact in outputs.values():
            artifact.schema_title = schema.schema_title
            artifact.schema_version = schema.schema_version
        return outputs, task_status

    return run_typed_importer


def _dag_output_artifacts(cls, dag_outputs_spec, io_store) -> dict[str, Any]:
    outputs = {}
    for name, spec in dag_outputs_spec.artifacts.items():
        produced = []
        for selector in spec.artifact_selectors:
            try:
                produced.append(
                    io_store.get_task_output(
                        selector.producer_subtask, selector.output_artifact_key
                    )
                )
            except ValueError:
                if len(spec.artifact_selectors) == 1:
                    raise
        if len(produced) != 1:
            raise ValueError(
                f"dsl.OneOf output {name!r}: {len(produced)} of its branches produced an "
                "artifact; exactly one must run."
            )
        outputs[name] = produced[0]
    return outputs


def _condition_channel(channel_ref: str, io_store) -> Any:
    """A condition's `pipelinechannel--<task>-<output>` or parent input, or None."""
    name = channel_ref.removeprefix("pipelinechannel--")
    for key in (channel_ref, name):
        try:
            return io_store.get_parent_input(key)
        except ValueError:
            pass
    task, _, output = name.rpartition("-")  # output keys are Python identifiers: no "-"
    try:
        return io_store.get_task_output(task, output)
    except ValueError:
        return None


def _observed(runtime: Runtime, current: _CurrentTask, failures: list[TaskFailure]):
    execute = task_executor.execute_single_task

    def execute_single_task(*, task_name: str, task_spec, **kwargs):
        current.name = task_spec.task_info.name or task_name
        current.log_tail, current.parameters = "", {}
        runtime.on_event(f"{current.name}: running")
        started = time.monotonic()
        try:
            outputs, task_status = execute(task_name=task_name, task_spec=task_spec, **kwargs)
        except Exception as error:  # a task kfp.local could not even start fails, as on Vertex
            lines = "".join(traceback.format_exception(error)).splitlines()
            current.log_tail = "\n".join(lines[-LOG_TAIL_LINES:])
            outputs, task_status = {}, status.Status.FAILURE
        seconds = round(time.monotonic() - started)
        if task_status == status.Status.SUCCESS:
            runtime.on_event(f"{current.name}: succeeded in {seconds}s")
        else:
            runtime.on_event(f"{current.name}: failed after {seconds}s")
            failures.append(TaskFailure(current.name, current.log_tail))
        return outputs, task_status

    return execute_single_task
