"""Training on Vertex AI, read from the compiled YAML that Vertex AI runs.

For each pipeline of the catalog, compiled for the "vertex" target (and the
"local" one to compare): training is a GCPC custom job whose worker pools run
the project's image on the machine parameters, single-machine or multi-worker
under a condition on train_replica_count, joined by dsl.OneOf before
evaluation; the pools are one typed value from the worker-pools step (no
parameter nested in a constant), and the payload GCPC's launcher builds from
them is a CustomJob that proto-plus accepts, with a base output directory
under the run's pipeline root, the standard scheduling strategy and, for
several workers, a restart of the whole job on a worker's restart.
"""

import json
import re

import pytest
from google.cloud import aiplatform_v1
from google.protobuf import json_format, struct_pb2
from google_cloud_pipeline_components.container.v1.custom_job import remote_runner
from google_cloud_pipeline_components.container.v1.gcp_launcher.utils import json_util
from kfp import dsl

from components.container_images import PIPELINE_IMAGE
from components.worker_pools import worker_pool_specs
from pipelines.targets import SCHEDULING_STRATEGY, VertexTarget
from tests.pipelines.compiled_spec import (
    GCPC_IMAGE,
    INPUT_PLACEHOLDER,
    LAUNCHERS,
    MULTI,
    POOLS,
    SINGLE,
    TRAINED_MODEL,
    Compiled,
    Spec,
    Task,
    arg_after,
    blessing_producers,
    pipeline_defaults,
)

CUSTOM_JOB_LAUNCHER = f"{LAUNCHERS}.custom_job.launcher"
# worker-pools' inputs and the pipeline parameters they take.
MACHINE_PARAMETERS = {
    "machine_type": "train_machine_type",
    "accelerator_type": "train_accelerator_type",
    "accelerator_count": "train_accelerator_count",
    "replica_count": "train_replica_count",
}
MULTI_WORKER_CONDITION = re.compile(r"int\(inputs\.parameter_values\['([^']+)'\]\) > 1")


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
    filled in as Vertex AI fills it for a run on the pipeline's defaults (a string parameter
    as its text, any other as JSON; then the run's placeholders and the JSON-escaped
    executor input), read as the launcher's
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
            if kind == "parameter":
                value = pipeline_defaults(spec)[value]
            assert kind in ("constant", "parameter"), name
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
    assert spec.scheduling.strategy == aiplatform_v1.Scheduling.Strategy[SCHEDULING_STRATEGY]
    assert spec.service_account == RUN["{{$.pipeline_service_account}}"]
    assert request.custom_job.display_name == "train"


def test_a_count_filled_in_as_text_is_refused_by_custom_job():
    """Why the pools are built as one typed value: proto-plus refuses an int32 given as text
    or as a float, which is what a placeholder nested in a constant may become."""
    for count in ("0", "2", 2.0):
        pool = {"machine_spec": {"machine_type": "n1-standard-8", "accelerator_count": count}}
        with pytest.raises(TypeError, match="MachineSpec"):
            aiplatform_v1.CustomJob({"job_spec": {"worker_pool_specs": [pool]}})


def test_the_distribution_strategy_reaches_the_component_not_the_job_scheduling(compiled):
    """The training component's `strategy` (tf.distribute) and GCPC's custom job input of the
    same name (its scheduling strategy) merge into one job input: the pipeline parameter goes
    to the component, and the job's scheduling strategy is a constant."""
    vertex = compiled.vertex
    for name in (SINGLE, MULTI):
        task = vertex.task(name)
        assert vertex.source(task, "parameters", "strategy") == ("parameter", "strategy")
        payload = arg_after(vertex.container(task)["args"], "--payload")
        assert "inputs.parameters['strategy']" not in payload
        assert (
            json.loads(INPUT_PLACEHOLDER.sub("0", payload))["job_spec"]["scheduling"]["strategy"]
            == SCHEDULING_STRATEGY
        )


def test_a_training_input_named_like_a_custom_job_field_is_refused():
    """Any other shared name would silently set that CustomJob field from the component's
    parameter: the Vertex target refuses to build the job, naming the input."""

    @dsl.component(base_image=PIPELINE_IMAGE)
    def train_with_timeout(timeout: str = "1h") -> str:
        return timeout

    with pytest.raises(ValueError, match=r"inputs timeout are also inputs of GCPC's custom job"):
        VertexTarget().train(train_with_timeout, resources=None)
