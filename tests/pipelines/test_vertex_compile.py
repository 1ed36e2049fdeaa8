"""The Vertex AI wiring of every compiled pipeline, read from the YAML that Vertex AI runs.

For each pipeline of the catalog, compiled for the "vertex" target (and the
"local" one to compare): training is a GCPC custom job whose worker pools run
the project's image on the machine parameters, single-machine or multi-worker
under a condition on train_replica_count, joined by dsl.OneOf before
evaluation; the pools are one typed value from the worker-pools step (no
parameter nested in a constant), and the payload GCPC's launcher builds from
them is a CustomJob that proto-plus accepts, with a base output directory
under the run's pipeline root and, for several workers, a restart of the whole
job on a worker's restart; upload (under the parent model), endpoint lookup
and deployment run only when evaluation blesses the model, uncached, with the
serving parameters; only the steps that read a changing source or change
Vertex AI skip the cache; both targets declare the same parameters; and the
real google-cloud-aiplatform SDK loads the template offline.

Inputs are followed through the nested condition DAGs to where they come
from (a pipeline parameter, a constant or a task output), so the checks do
not depend on kfp's generated names (condition-2, pipelinechannel--...).
"""

from __future__ import annotations

import inspect
import json
import re
from dataclasses import dataclass
from pathlib import Path

import google.auth.credentials
import google_cloud_pipeline_components
import pytest
import yaml
from google.cloud import aiplatform, aiplatform_v1
from google.protobuf import json_format, struct_pb2
from google_cloud_pipeline_components.container.v1.custom_job import remote_runner
from google_cloud_pipeline_components.container.v1.gcp_launcher.utils import json_util
from kfp import dsl

from components.container_images import PIPELINE_IMAGE
from components.worker_pools import worker_pool_specs
from pipelines.catalog import PIPELINES, get_pipeline
from pipelines.compile import compile_pipeline

GCPC_VERSION = google_cloud_pipeline_components.__version__
GCPC_IMAGE = f"gcr.io/ml-pipeline/google-cloud-pipeline-components:{GCPC_VERSION}"
LAUNCHERS = "google_cloud_pipeline_components.container.v1"
CUSTOM_JOB_LAUNCHER = f"{LAUNCHERS}.custom_job.launcher"
UPLOAD_LAUNCHER = f"{LAUNCHERS}.model.upload_model.launcher"
DEPLOY_LAUNCHER = f"{LAUNCHERS}.endpoint.deploy_model.launcher"

# Task display names set by pipelines/targets.py (the names shown in the Vertex AI console).
SINGLE, MULTI, POOLS = "train", "train-multi-worker", "worker-pools"
PARENT, UPLOAD, ENDPOINT, DEPLOY = "find-parent-model", "upload-model", "endpoint", "deploy-model"
RETIRE = "undeploy-idle-models"
DEPLOY_TASKS = (PARENT, UPLOAD, ENDPOINT, DEPLOY, RETIRE)
VERTEX_ONLY_TASKS = {MULTI, POOLS, *DEPLOY_TASKS}
# worker-pools' inputs and the pipeline parameters they take.
MACHINE_PARAMETERS = {
    "machine_type": "train_machine_type",
    "accelerator_type": "train_accelerator_type",
    "accelerator_count": "train_accelerator_count",
    "replica_count": "train_replica_count",
}
# The steps that read a source whose data changes under the same name (ingest) or read or
# change the registry and endpoints: never taken from the cache (pipelines.targets.never_cached).
UNCACHED = {"ingest", "find-champion"}
# The model whichever training branch ran (dsl.OneOf of both).
TRAINED_MODEL = ("output", frozenset({(SINGLE, "model"), (MULTI, "model")}))

# Each case study's one required parameter (its data) and a value Vertex AI can read.
SOURCES = {
    "vision": ("source_uri", "gs://d/i"),
    "timeseries": ("source_query", "my-project.weather.temps"),
    "text": ("source_uri", "gs://d/messages.jsonl"),
}

# Parameters the targets need, with the defaults every case study keeps.
TARGET_DEFAULTS = {
    "train_replica_count": 1,
    "train_accelerator_count": 0,
    "train_accelerator_type": "ACCELERATOR_TYPE_UNSPECIFIED",
    "serving_min_replica_count": 1,
    "serving_max_replica_count": 1,
    "traffic_split": {"0": 100},
    "registry_uri": "",
}
TARGET_PARAMETERS = {
    *TARGET_DEFAULTS,
    "model_name",
    "endpoint_name",
    "train_machine_type",
    "serving_machine_type",
}
INPUT_PLACEHOLDER = re.compile(r"\{\{\$\.inputs\.parameters\['([^']+)'\]\}\}")
MULTI_WORKER_CONDITION = re.compile(r"int\(inputs\.parameter_values\['([^']+)'\]\) > 1")
BLESSED_CONDITION = re.compile(r"inputs\.parameter_values\['([^']+)'\] == true")


@dataclass(frozen=True)
class Task:
    dag: str  # "root" or the name of the component whose DAG holds the task
    spec: dict

    @property
    def name(self) -> str:
        return self.spec["taskInfo"]["name"]


class Spec:
    """A compiled pipeline: tasks by display name, and where their inputs come from."""

    def __init__(self, path: Path):
        self.path = path
        self.doc = yaml.safe_load(path.read_text())
        components = self.doc["components"]
        self.dags = {"root": self.doc["root"]["dag"]}
        self.dags.update({name: c["dag"] for name, c in components.items() if "dag" in c})
        self.parents: dict[str, Task] = {}  # DAG component -> the task that runs it
        self.all_tasks: list[Task] = []
        for dag_name, dag in self.dags.items():
            for spec in dag["tasks"].values():
                self.all_tasks.append(Task(dag_name, spec))
                if spec["componentRef"]["name"] in self.dags:
                    self.parents[spec["componentRef"]["name"]] = Task(dag_name, spec)

    def task(self, name: str) -> Task:
        [task] = [t for t in self.all_tasks if t.name == name]
        return task

    def leaf_tasks(self) -> list[Task]:
        return [t for t in self.all_tasks if t.spec["componentRef"]["name"] not in self.dags]

    def container(self, task: Task) -> dict:
        label = self.doc["components"][task.spec["componentRef"]["name"]]["executorLabel"]
        return self.doc["deploymentSpec"]["executors"][label]["container"]

    def component_inputs(self, task: Task) -> dict:
        return self.doc["components"][task.spec["componentRef"]["name"]]["inputDefinitions"]

    def source(self, task: Task, kind: str, name: str) -> tuple:
        """Where input `name` ("parameters" or "artifacts") of `task` comes from:
        ("parameter", pipeline parameter), ("constant", value) or ("output", {(task, key)}),
        through the enclosing condition DAGs and down DAG outputs (dsl.OneOf)."""
        binding = task.spec["inputs"][kind][name]
        dag = task.dag
        while "componentInputParameter" in binding or "componentInputArtifact" in binding:
            key = binding.get("componentInputParameter") or binding["componentInputArtifact"]
            if dag == "root":
                return ("parameter", key)
            outer = self.parents[dag]
            dag, binding = outer.dag, outer.spec["inputs"][kind][key]
        if "runtimeValue" in binding:
            return ("constant", binding["runtimeValue"]["constant"])
        output = binding.get("taskOutputParameter") or binding["taskOutputArtifact"]
        key = output.get("outputParameterKey") or output["outputArtifactKey"]
        return ("output", self._producers(dag, output["producerTask"], key, kind))

    def _producers(self, dag: str, task_key: str, key: str, kind: str) -> frozenset:
        spec = self.dags[dag]["tasks"][task_key]
        inner = spec["componentRef"]["name"]
        if inner not in self.dags:
            return frozenset({(spec["taskInfo"]["name"], key)})
        out = self.dags[inner]["outputs"][kind][key]
        selectors = (
            out.get("artifactSelectors")
            or out.get("valueFromOneof", {}).get("parameterSelectors")
            or [out["valueFromParameter"]]
        )
        producers: frozenset = frozenset()
        for selector in selectors:
            inner_key = selector.get("outputArtifactKey") or selector["outputParameterKey"]
            producers |= self._producers(inner, selector["producerSubtask"], inner_key, kind)
        return producers

    def placeholder_source(self, task: Task, value: str) -> tuple:
        """Where a "{{$.inputs.parameters['...']}}" inside a constant comes from."""
        match = INPUT_PLACEHOLDER.fullmatch(value)
        assert match, f"{value!r} is not an input placeholder"
        return self.source(task, "parameters", match[1])

    def conditions(self, task: Task) -> list[Task]:
        """The condition tasks (dsl.If/Else) around `task`, innermost first."""
        found, dag = [], task.dag
        while dag != "root":
            outer = self.parents[dag]
            if "triggerPolicy" in outer.spec:
                found.append(outer)
            dag = outer.dag
        return found

    def trigger_source(self, condition: Task, pattern: re.Pattern) -> tuple:
        match = pattern.fullmatch(condition.spec["triggerPolicy"]["condition"])
        assert match, condition.spec["triggerPolicy"]["condition"]
        return self.source(condition, "parameters", match[1])


@dataclass(frozen=True)
class Compiled:
    name: str
    vertex: Spec
    local: Spec


@pytest.fixture(scope="module", params=sorted(PIPELINES))
def compiled(request, tmp_path_factory) -> Compiled:
    """Each catalog pipeline compiled once for each target."""
    out = tmp_path_factory.mktemp(request.param)
    return Compiled(
        request.param,
        vertex=Spec(compile_pipeline(request.param, out / "vertex")),
        local=Spec(compile_pipeline(request.param, out / "local", target="local")),
    )


def arg_after(args: list, flag: str):
    return args[args.index(flag) + 1]


def pipeline_defaults(spec: Spec) -> dict:
    parameters = spec.doc["root"]["inputDefinitions"]["parameters"]
    return {name: p["defaultValue"] for name, p in parameters.items() if "defaultValue" in p}


def worker_pools(spec: Spec, task: Task, **values) -> list[dict]:
    """The pools `task`'s job gets: worker-pools' output, computed by its own function from
    the template compiled into it and the pipeline parameters (defaults, or `values`)."""
    assert spec.source(task, "parameters", "worker_pool_specs") == (
        "output",
        frozenset({(POOLS, "Output")}),
    )  # a task output, passed whole: not a constant with parameters nested in it
    builder = spec.task(POOLS)
    kind, template = spec.source(builder, "parameters", "pool_template")
    assert kind == "constant"
    parameters = {**pipeline_defaults(spec), **values}
    machine = {}
    for name, parameter in MACHINE_PARAMETERS.items():
        assert spec.source(builder, "parameters", name) == ("parameter", parameter)
        machine[name] = parameters[parameter]
    return worker_pool_specs.python_func(pool_template=template, **machine)


def check_pool_runs_the_component(compiled: Compiled, pool: dict) -> None:
    """The pool runs the project's image with the component's own command, on the machine
    parameters' values as ints and text; args carry the executor input (JSON-escaped inside
    the job payload)."""
    container = pool["container_spec"]
    assert container["image_uri"] == PIPELINE_IMAGE
    local = compiled.local.container(compiled.local.task(SINGLE))
    assert container["command"] == local["command"]
    assert arg_after(container["args"], "--executor_input") == "{{$.json_escape[1]}}"
    assert [a for a in container["args"] if a != "{{$.json_escape[1]}}"] == [
        a for a in local["args"] if a != "{{$}}"
    ]
    defaults = pipeline_defaults(compiled.vertex)
    assert pool["machine_spec"] == {
        "machine_type": defaults["train_machine_type"],
        "accelerator_type": "ACCELERATOR_TYPE_UNSPECIFIED",
        "accelerator_count": 0,
    }
    assert type(pool["machine_spec"]["accelerator_count"]) is int
    assert type(pool["replica_count"]) is int


def test_training_is_a_gcpc_custom_job(compiled):
    vertex = compiled.vertex
    custom_jobs = {
        t.name for t in vertex.leaf_tasks() if CUSTOM_JOB_LAUNCHER in vertex.container(t)["command"]
    }
    assert custom_jobs == {SINGLE, MULTI}
    for name in custom_jobs:
        task = vertex.task(name)
        container = vertex.container(task)
        assert container["image"] == GCPC_IMAGE
        assert container["command"] == ["python3", "-u", "-m", CUSTOM_JOB_LAUNCHER]
        assert arg_after(container["args"], "--type") == "CustomJob"
        payload = arg_after(container["args"], "--payload")
        assert "\"worker_pool_specs\": {{$.inputs.parameters['worker_pool_specs']}}" in payload
        assert worker_pools(vertex, task)  # the job's pools are set on the task


def test_training_runs_as_the_pipeline_service_account_on_its_network(compiled):
    """Not as Vertex AI's Custom Code Service Agent: the grants of infra/ apply to training."""
    vertex = compiled.vertex
    for name in (SINGLE, MULTI):
        inputs = vertex.component_inputs(vertex.task(name))["parameters"]
        assert inputs["service_account"]["defaultValue"] == "{{$.pipeline_service_account}}"
        assert inputs["network"]["defaultValue"] == "{{$.pipeline_network}}"


def test_single_machine_branch_runs_one_pool_on_the_training_machine(compiled):
    vertex = compiled.vertex
    single = vertex.task(SINGLE)
    [pool] = worker_pools(vertex, single)
    assert pool["replica_count"] == 1
    check_pool_runs_the_component(compiled, pool)

    [branch] = vertex.conditions(single)
    [multi_branch] = vertex.conditions(vertex.task(MULTI))
    assert branch.name == "single-machine"
    assert branch.spec["triggerPolicy"]["condition"] == (
        f"!({multi_branch.spec['triggerPolicy']['condition']})"
    )


def test_multi_worker_branch_adds_a_pool_of_the_additional_workers(compiled):
    vertex = compiled.vertex
    multi = vertex.task(MULTI)
    chief, workers = worker_pools(vertex, multi, train_replica_count=3)
    assert chief == worker_pools(vertex, vertex.task(SINGLE))[0]
    assert chief["replica_count"] == 1
    assert workers["replica_count"] == 2
    check_pool_runs_the_component(compiled, workers)

    pools = vertex.task(POOLS)
    assert arg_after(vertex.container(pools)["args"], "--function_to_execute") == (
        "worker_pool_specs"
    )
    assert vertex.container(pools)["image"] == PIPELINE_IMAGE
    assert vertex.conditions(pools) == []  # built once, before the branches
    [branch] = vertex.conditions(multi)
    assert branch.name == "multi-worker"
    assert vertex.trigger_source(branch, MULTI_WORKER_CONDITION) == (
        "parameter",
        "train_replica_count",
    )


def nested_placeholders(value, where: str) -> list[str]:
    """Every "{{$...}}" placeholder inside a list or struct constant, with where it is."""
    if isinstance(value, dict):
        return [p for k, v in value.items() for p in nested_placeholders(v, f"{where}.{k}")]
    if isinstance(value, list):
        return [p for i, v in enumerate(value) for p in nested_placeholders(v, f"{where}[{i}]")]
    return [f"{where}: {value}"] if isinstance(value, str) and "{{$" in value else []


def test_no_constant_nests_a_placeholder_that_vertex_would_fill_in_as_text(compiled):
    """The machine fields reach the pools as worker-pools' inputs, whole values, and its pool
    template carries no placeholder: not even the executor input's, which Vertex could fill
    in with worker-pools' own executor input instead of the custom job's."""
    vertex = compiled.vertex
    found = [
        p
        for task in vertex.all_tasks
        for name, binding in task.spec.get("inputs", {}).get("parameters", {}).items()
        if isinstance(binding.get("runtimeValue", {}).get("constant"), dict | list)
        for p in nested_placeholders(binding["runtimeValue"]["constant"], f"{task.name}.{name}")
    ]
    assert found == []


def test_the_branches_models_are_joined_and_evaluated(compiled):
    vertex = compiled.vertex
    [evaluator] = blessing_producers(vertex)
    evaluate = vertex.task(evaluator)
    assert vertex.conditions(evaluate) == []
    models = [vertex.source(evaluate, "artifacts", n) for n in evaluate.spec["inputs"]["artifacts"]]
    assert TRAINED_MODEL in models
    assert (
        vertex.doc["root"]["outputDefinitions"] == compiled.local.doc["root"]["outputDefinitions"]
    )  # the same artifact types (google.UnmanagedContainerModel) on both targets


def blessing_producers(spec: Spec) -> list[str]:
    """The task whose `Output` the "blessed" condition checks (evaluation)."""
    kind, producers = spec.trigger_source(spec.task("blessed"), BLESSED_CONDITION)
    assert kind == "output"
    assert {key for _, key in producers} == {"Output"}
    return sorted(name for name, _ in producers)


def test_deployment_runs_only_for_a_blessed_model_and_never_from_cache(compiled):
    vertex = compiled.vertex
    blessed = vertex.task("blessed")
    assert blessing_producers(vertex)
    for name in DEPLOY_TASKS:
        task = vertex.task(name)
        assert vertex.conditions(task) == [blessed], name
        assert not task.spec.get("cachingOptions", {}).get("enableCache", False), name


def test_upload_is_a_new_version_under_the_parent_model(compiled):
    vertex = compiled.vertex
    upload = vertex.task(UPLOAD)
    container = vertex.container(upload)
    assert container["image"] == GCPC_IMAGE and UPLOAD_LAUNCHER in container["command"]
    assert vertex.source(upload, "artifacts", "unmanaged_container_model") == TRAINED_MODEL
    assert vertex.source(upload, "artifacts", "parent_model") == (
        "output",
        frozenset({(PARENT, "model")}),
    )
    assert vertex.source(upload, "parameters", "display_name") == ("parameter", "model_name")
    # The launcher reads the parent from the resourceName that find-parent-model writes.
    assert any(
        "--parent_model_name" in arg and "['parent_model'].metadata['resourceName']" in arg
        for arg in container["args"]
    )


@pytest.mark.parametrize(
    ("lookup", "function", "name_parameter"),
    [(PARENT, "parent_model", "model_name"), (ENDPOINT, "get_or_create_endpoint", "endpoint_name")],
)
def test_lookups_run_in_the_project_image_once_per_run(compiled, lookup, function, name_parameter):
    vertex = compiled.vertex
    task = vertex.task(lookup)
    container = vertex.container(task)
    assert container["image"] == PIPELINE_IMAGE
    assert arg_after(container["args"], "--function_to_execute") == function
    assert vertex.source(task, "parameters", "display_name") == ("parameter", name_parameter)
    assert vertex.source(task, "parameters", "pipeline_run") == (
        "constant",
        dsl.PIPELINE_JOB_ID_PLACEHOLDER,
    )
    defaults = vertex.component_inputs(task)["parameters"]
    assert defaults["project"]["defaultValue"] == "{{$.pipeline_google_cloud_project_id}}"
    assert defaults["location"]["defaultValue"] == "{{$.pipeline_google_cloud_location}}"


def test_deploy_puts_the_uploaded_model_on_the_endpoint_with_the_serving_parameters(compiled):
    vertex = compiled.vertex
    deploy = vertex.task(DEPLOY)
    container = vertex.container(deploy)
    assert container["image"] == GCPC_IMAGE and DEPLOY_LAUNCHER in container["command"]
    assert vertex.source(deploy, "artifacts", "model") == ("output", frozenset({(UPLOAD, "model")}))
    assert vertex.source(deploy, "artifacts", "endpoint") == (
        "output",
        frozenset({(ENDPOINT, "endpoint")}),
    )
    parameters = {
        n: vertex.source(deploy, "parameters", n) for n in deploy.spec["inputs"]["parameters"]
    }
    assert parameters == {
        "dedicated_resources_machine_type": ("parameter", "serving_machine_type"),
        "dedicated_resources_min_replica_count": ("parameter", "serving_min_replica_count"),
        "dedicated_resources_max_replica_count": ("parameter", "serving_max_replica_count"),
        "traffic_split": ("parameter", "traffic_split"),
        "deployed_model_display_name": ("parameter", "model_name"),
    }


def test_models_left_without_traffic_are_undeployed_after_the_deployment(compiled):
    vertex = compiled.vertex
    retire = vertex.task(RETIRE)
    assert vertex.source(retire, "artifacts", "endpoint") == (
        "output",
        frozenset({(ENDPOINT, "endpoint")}),
    )
    deploy_key = next(
        k for k, t in vertex.dags[retire.dag]["tasks"].items() if t is vertex.task(DEPLOY).spec
    )
    assert deploy_key in retire.spec["dependentTasks"]
    assert "undeploy_idle_models" in " ".join(vertex.container(retire)["args"])


def test_parameters_keep_their_defaults_and_only_the_source_is_required(compiled):
    parameters = compiled.vertex.doc["root"]["inputDefinitions"]["parameters"]
    required = [n for n, p in parameters.items() if not p.get("isOptional", False)]
    assert required == [SOURCES[compiled.name][0]]
    assert "defaultValue" not in parameters[required[0]]
    assert set(parameters) >= TARGET_PARAMETERS
    for name, default in TARGET_DEFAULTS.items():
        assert parameters[name]["defaultValue"] == default, name
    assert parameters["traffic_split"]["parameterType"] == "STRUCT"
    assert parameters["train_replica_count"]["parameterType"] == "NUMBER_INTEGER"
    # Every default is the one in the pipeline function's signature.
    signature = inspect.signature(get_pipeline(compiled.name, "vertex").pipeline_func)
    assert set(parameters) == set(signature.parameters)
    for name, parameter in signature.parameters.items():
        if parameter.default is inspect.Parameter.empty:
            assert "defaultValue" not in parameters[name], name
        else:
            assert parameters[name]["defaultValue"] == parameter.default, name


def test_the_local_target_registers_locally_instead(compiled):
    local = compiled.local
    containers = [local.container(t) for t in local.leaf_tasks()]
    assert {c["image"] for c in containers} == {PIPELINE_IMAGE}  # no GCPC launcher at all
    assert not any(LAUNCHERS in " ".join(c["command"]) for c in containers)
    assert not VERTEX_ONLY_TASKS & {t.name for t in local.all_tasks}
    assert local.conditions(local.task(SINGLE)) == []  # no single/multi-worker branches

    register = local.task("deploy")
    container = local.container(register)
    assert arg_after(container["args"], "--function_to_execute") == "register_model_locally"
    assert local.conditions(register) == [local.task("blessed")]
    assert blessing_producers(local) == blessing_producers(compiled.vertex)
    assert local.source(register, "artifacts", "model") == (
        "output",
        frozenset({(SINGLE, "model")}),
    )
    assert local.source(register, "parameters", "registry_uri") == ("parameter", "registry_uri")


def test_both_targets_declare_the_same_parameters(compiled):
    assert (
        compiled.vertex.doc["root"]["inputDefinitions"]
        == compiled.local.doc["root"]["inputDefinitions"]
    )


def sdk_job(path: Path, parameter_values: dict) -> aiplatform.PipelineJob:
    return aiplatform.PipelineJob(
        display_name="compiled-template",
        template_path=str(path),
        pipeline_root="gs://b/r",
        parameter_values=parameter_values,
        project="my-project",
        location="us-central1",
        credentials=google.auth.credentials.AnonymousCredentials(),
    )


def test_the_aiplatform_sdk_loads_the_template_offline(compiled):
    source, value = SOURCES[compiled.name]
    values = {source: value, "train_replica_count": 2}
    request = sdk_job(compiled.vertex.path, values).to_dict()
    assert request["runtimeConfig"]["parameterValues"] == values
    assert request["runtimeConfig"]["gcsOutputDirectory"] == "gs://b/r"
    assert request["pipelineSpec"] == compiled.vertex.doc
    with pytest.raises(ValueError, match="pipeline parameter no_such_setting is not found"):
        sdk_job(compiled.vertex.path, {**values, "no_such_setting": 3})


def test_the_two_pools_give_every_replica_a_multi_worker_strategy(compiled):
    """The CLUSTER_SPEC Vertex AI sets for these pools (train_replica_count=3) on each replica."""
    from trainer.distribution.cluster import read_cluster
    from trainer.distribution.strategy import choose_strategy

    chief_pool, worker_pool = worker_pools(
        compiled.vertex, compiled.vertex.task(MULTI), train_replica_count=3
    )
    assert chief_pool["container_spec"] == worker_pool["container_spec"]  # the same code
    pools = {
        "workerpool0": [f"chief-{i}:2222" for i in range(chief_pool["replica_count"])],
        "workerpool1": [f"worker-{i}:2222" for i in range(worker_pool["replica_count"])],
    }
    clusters = [
        read_cluster({"CLUSTER_SPEC": json.dumps({"cluster": pools, "task": task})})
        for task in [{"type": "workerpool0", "index": 0}]
        + [{"type": "workerpool1", "index": i} for i in range(2)]
    ]
    assert [c.is_chief for c in clusters] == [True, False, False]
    for cluster in clusters:
        assert cluster.workers == 3
        assert choose_strategy("auto", cluster, gpus=0, tpu="").kind == "multi_worker"


def test_evaluation_compares_with_the_champion_found_uncached_on_each_target(compiled):
    """find-champion feeds evaluate's champion_uri on both targets, and is never cached."""
    for spec, component in (
        (compiled.vertex, "find-vertex-champion"),
        (compiled.local, "find-local-champion"),
    ):
        find = spec.task("find-champion")
        assert find.spec["componentRef"]["name"] == f"comp-{component}"
        assert not find.spec.get("cachingOptions", {}).get("enableCache", False)
        evaluate = spec.task("evaluate")
        assert spec.source(evaluate, "parameters", "champion_uri") == (
            "output",
            frozenset({("find-champion", "Output")}),
        )
        assert spec.source(evaluate, "parameters", "regression_tolerance") == (
            "parameter",
            "regression_tolerance",
        )


def test_a_blessed_upload_becomes_the_default_version_and_the_champion(compiled):
    upload = compiled.vertex.task(UPLOAD)
    assert compiled.vertex.source(upload, "parameters", "version_aliases") == (
        "constant",
        ["default", "champion"],
    )


CUSTOM_JOB_OUTPUT_DIRECTORY = (
    f"{dsl.PIPELINE_ROOT_PLACEHOLDER}/{dsl.PIPELINE_JOB_ID_PLACEHOLDER}"
    f"/{dsl.PIPELINE_TASK_ID_PLACEHOLDER}"
)


def test_custom_jobs_write_under_the_run_and_several_workers_restart_together(compiled):
    """A base output directory per run and task under the pipeline root (Vertex then sets the
    AIP_* directories); restart_job_on_worker_restart only where there are several workers."""
    vertex = compiled.vertex
    for name in (SINGLE, MULTI):
        task = vertex.task(name)
        assert vertex.source(task, "parameters", "base_output_directory") == (
            "constant",
            CUSTOM_JOB_OUTPUT_DIRECTORY,
        )
    assert vertex.source(vertex.task(MULTI), "parameters", "restart_job_on_worker_restart") == (
        "constant",
        True,
    )
    single = vertex.task(SINGLE)
    assert "restart_job_on_worker_restart" not in single.spec["inputs"]["parameters"]
    assert not vertex.component_inputs(single)["parameters"]["restart_job_on_worker_restart"][
        "defaultValue"
    ]


# What Vertex AI fills in for a run of the launcher step (pipeline root gs://b/r).
RUN = {
    dsl.PIPELINE_ROOT_PLACEHOLDER: "gs://b/r",
    dsl.PIPELINE_JOB_ID_PLACEHOLDER: "run-1",
    dsl.PIPELINE_TASK_ID_PLACEHOLDER: "7",
    "{{$.pipeline_service_account}}": "vertex-pipelines@my-project.iam.gserviceaccount.com",
    "{{$.pipeline_network}}": "",
    "{{$.pipeline_persistent_resource_id}}": "",
}
EXECUTOR_INPUT = {"inputs": {"parameterValues": {"note": 'a "quoted" value'}}}


class RecordingJobClient:
    """Stands in for JobServiceClient, which needs Vertex AI: keeps what create_custom_job got."""

    def create_custom_job(self, parent: str, custom_job: dict):
        self.parent, self.custom_job = parent, custom_job
        return aiplatform_v1.CustomJob(name=f"{parent}/customJobs/1")


def as_vertex_writes(value) -> str:
    """A parameter value as Vertex AI puts it into a command line: kept as a protobuf Value
    (every number a double, as the local runner shows: 2 comes back as 2.0) and written as
    protojson writes it (a whole-number double without a fraction: 2, not 2.0)."""

    def whole(v):
        if isinstance(v, dict):
            return {k: whole(x) for k, x in v.items()}
        if isinstance(v, list):
            return [whole(x) for x in v]
        return int(v) if isinstance(v, float) and v.is_integer() else v

    stored = json_format.MessageToDict(json_format.ParseDict(value, struct_pb2.Value()))
    return json.dumps(whole(stored))


def launcher_request(spec: Spec, task: Task, pools: list[dict]):
    """The CreateCustomJobRequest GCPC's launcher sends for `task` given `pools`: its payload
    filled in as Vertex AI fills it (a string parameter as its text, any other as JSON; then
    the run's placeholders and the JSON-escaped executor input), read as the launcher's
    create_job reads it, passed through the launcher's own create_custom_job_with_client and
    typed by proto-plus as JobServiceClient types it."""
    definitions = spec.component_inputs(task)["parameters"]
    bound = task.spec["inputs"]["parameters"]

    def fill(match: re.Match) -> str:
        name = match[1]
        if name == "worker_pool_specs":
            value = pools
        elif name in bound:
            kind, value = spec.source(task, "parameters", name)
            assert kind == "constant", name
        else:
            value = definitions[name].get("defaultValue")
        return value if definitions[name]["parameterType"] == "STRING" else as_vertex_writes(value)

    payload = INPUT_PLACEHOLDER.sub(fill, arg_after(spec.container(task)["args"], "--payload"))
    for placeholder, value in RUN.items():
        payload = payload.replace(placeholder, value)
    payload = payload.replace("{{$.json_escape[1]}}", json.dumps(json.dumps(EXECUTOR_INPUT))[1:-1])
    assert "{{$" not in payload
    job = json_util.recursive_remove_empty(json.loads(payload, strict=False))
    client = RecordingJobClient()
    remote_runner.create_custom_job_with_client(client, "projects/p/locations/l", job)
    return aiplatform_v1.CreateCustomJobRequest(parent=client.parent, custom_job=client.custom_job)


@pytest.mark.parametrize(
    ("branch", "values", "counts", "accelerator"),
    [
        (SINGLE, {}, [1], ("ACCELERATOR_TYPE_UNSPECIFIED", 0)),
        (
            MULTI,
            {
                "train_replica_count": 3.0,  # as the local runner writes numbers
                "train_accelerator_type": "NVIDIA_TESLA_T4",
                "train_accelerator_count": 2,
            },
            [1, 2],
            ("NVIDIA_TESLA_T4", 2),
        ),
    ],
)
def test_the_launcher_sends_a_custom_job_that_vertex_accepts(
    compiled, branch, values, counts, accelerator
):
    vertex = compiled.vertex
    task = vertex.task(branch)
    request = launcher_request(vertex, task, worker_pools(vertex, task, **values))
    spec = request.custom_job.job_spec
    assert [pool.replica_count for pool in spec.worker_pool_specs] == counts
    for pool in spec.worker_pool_specs:
        machine = pool.machine_spec
        assert (machine.accelerator_type.name, machine.accelerator_count) == accelerator
        assert machine.machine_type == pipeline_defaults(vertex)["train_machine_type"]
        assert pool.container_spec.image_uri == PIPELINE_IMAGE
        executor_input = arg_after(list(pool.container_spec.args), "--executor_input")
        assert json.loads(executor_input) == EXECUTOR_INPUT
    assert spec.base_output_directory.output_uri_prefix == "gs://b/r/run-1/7"
    assert spec.scheduling.restart_job_on_worker_restart == (branch == MULTI)
    assert spec.service_account == RUN["{{$.pipeline_service_account}}"]
    assert request.custom_job.display_name == "train"


def test_a_count_filled_in_as_text_is_refused_by_custom_job():
    """Why the pools are built as one typed value: proto-plus refuses an int32 given as text
    or as a float, which is what a placeholder nested in a constant may become."""
    for count in ("0", "2", 2.0):
        pool = {"machine_spec": {"machine_type": "n1-standard-8", "accelerator_count": count}}
        with pytest.raises(TypeError, match="MachineSpec"):
            aiplatform_v1.CustomJob({"job_spec": {"worker_pool_specs": [pool]}})


def test_only_steps_that_read_a_changing_source_or_change_vertex_skip_the_cache(compiled):
    """Vertex AI keys the cache on a step's inputs (parameter values, input artifact ids), not
    on the data behind source_uri: ingest always runs, so a scheduled run sees new data, and
    training and evaluation, which take its new Dataset artifact, run again after it."""
    for spec, uncached in (
        (compiled.vertex, UNCACHED | set(DEPLOY_TASKS)),
        (compiled.local, UNCACHED | {"deploy"}),
    ):
        caching = {
            t.name: t.spec.get("cachingOptions", {}).get("enableCache", False)
            for t in spec.leaf_tasks()
        }
        assert {name for name, cached in caching.items() if not cached} == uncached
        ingest = spec.task("ingest")
        for name in ("evaluate", SINGLE):
            task = spec.task(name)
            assert ("output", frozenset({("ingest", "dataset")})) in [
                spec.source(task, "artifacts", n) for n in task.spec["inputs"]["artifacts"]
            ], name  # a new Dataset from each ingest: a new cache key downstream
        assert ingest.spec["taskInfo"]["name"] == "ingest"
