"""The Vertex AI wiring of every compiled pipeline, read from the YAML that Vertex AI runs.

For each pipeline of the catalog, compiled for the "vertex" target (and the
"local" one to compare): training is a GCPC custom job whose worker pools run
the project's image on the machine parameters, single-machine or multi-worker
under a condition on train_replica_count, joined by dsl.OneOf before
evaluation; upload (under the parent model), endpoint lookup and deployment
run only when evaluation blesses the model, uncached, with the serving
parameters; both targets declare the same parameters; and the real
google-cloud-aiplatform SDK loads the template offline.

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
from google.cloud import aiplatform
from kfp import dsl

from components.images import PIPELINE_IMAGE
from pipelines.catalog import PIPELINES, get_pipeline
from pipelines.compile import compile_pipeline

GCPC_VERSION = google_cloud_pipeline_components.__version__
GCPC_IMAGE = f"gcr.io/ml-pipeline/google-cloud-pipeline-components:{GCPC_VERSION}"
LAUNCHERS = "google_cloud_pipeline_components.container.v1"
CUSTOM_JOB_LAUNCHER = f"{LAUNCHERS}.custom_job.launcher"
UPLOAD_LAUNCHER = f"{LAUNCHERS}.model.upload_model.launcher"
DEPLOY_LAUNCHER = f"{LAUNCHERS}.endpoint.deploy_model.launcher"

# Task display names set by pipelines/targets.py (the names shown in the Vertex AI console).
SINGLE, MULTI, WORKER_COUNT = "train", "train-multi-worker", "worker-count"
PARENT, UPLOAD, ENDPOINT, DEPLOY = "find-parent-model", "upload-model", "endpoint", "deploy-model"
RETIRE = "undeploy-idle-models"
DEPLOY_TASKS = (PARENT, UPLOAD, ENDPOINT, DEPLOY, RETIRE)
VERTEX_ONLY_TASKS = {MULTI, WORKER_COUNT, *DEPLOY_TASKS}
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


def worker_pools(spec: Spec, task: Task) -> list[dict]:
    kind, pools = spec.source(task, "parameters", "worker_pool_specs")
    assert kind == "constant"  # passed per task, not the component's default
    return pools


def check_pool_runs_the_component(compiled: Compiled, task: Task, pool: dict) -> None:
    """The pool runs the project's image with the component's own command, on the machine
    parameters; args carry the executor input (JSON-escaped inside the job payload)."""
    vertex = compiled.vertex
    container = pool["container_spec"]
    assert container["image_uri"] == PIPELINE_IMAGE
    local = compiled.local.container(compiled.local.task(SINGLE))
    assert container["command"] == local["command"]
    assert arg_after(container["args"], "--executor_input") == "{{$.json_escape[1]}}"
    assert [a for a in container["args"] if a != "{{$.json_escape[1]}}"] == [
        a for a in local["args"] if a != "{{$}}"
    ]
    machine = pool["machine_spec"]
    assert {field: vertex.placeholder_source(task, value) for field, value in machine.items()} == {
        "machine_type": ("parameter", "train_machine_type"),
        "accelerator_type": ("parameter", "train_accelerator_type"),
        "accelerator_count": ("parameter", "train_accelerator_count"),
    }


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
    check_pool_runs_the_component(compiled, single, pool)

    [branch] = vertex.conditions(single)
    [multi_branch] = vertex.conditions(vertex.task(MULTI))
    assert branch.name == "single-machine"
    assert branch.spec["triggerPolicy"]["condition"] == (
        f"!({multi_branch.spec['triggerPolicy']['condition']})"
    )


def test_multi_worker_branch_adds_a_pool_of_the_additional_workers(compiled):
    vertex = compiled.vertex
    multi = vertex.task(MULTI)
    chief, workers = worker_pools(vertex, multi)
    assert chief == worker_pools(vertex, vertex.task(SINGLE))[0]
    assert chief["replica_count"] == 1
    check_pool_runs_the_component(compiled, multi, workers)
    assert vertex.placeholder_source(multi, workers["replica_count"]) == (
        "output",
        frozenset({(WORKER_COUNT, "Output")}),
    )

    count = vertex.task(WORKER_COUNT)
    assert arg_after(vertex.container(count)["args"], "--function_to_execute") == (
        "additional_workers"
    )
    assert vertex.source(count, "parameters", "replica_count") == (
        "parameter",
        "train_replica_count",
    )
    [branch] = vertex.conditions(multi)
    assert vertex.conditions(count) == [branch]
    assert branch.name == "multi-worker"
    assert vertex.trigger_source(branch, MULTI_WORKER_CONDITION) == (
        "parameter",
        "train_replica_count",
    )


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
    from components.vertex_resources import additional_workers
    from trainer.cluster import read_cluster
    from trainer.strategy import choose_strategy

    chief_pool, worker_pool = worker_pools(compiled.vertex, compiled.vertex.task(MULTI))
    assert chief_pool["container_spec"] == worker_pool["container_spec"]  # the same code
    pools = {
        "workerpool0": [f"chief-{i}:2222" for i in range(int(chief_pool["replica_count"]))],
        "workerpool1": [f"worker-{i}:2222" for i in range(additional_workers.python_func(3))],
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
