"""A compiled pipeline read as Vertex AI reads it: tasks, and where their inputs come from.

Inputs are followed through the nested condition DAGs to where they come
from (a pipeline parameter, a constant or a task output), so the checks do
not depend on kfp's generated names (condition-2, pipelinechannel--...).
Shared by the test_vertex_* and test_parameters modules (the `compiled`
fixture is in conftest.py).
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from pathlib import Path

import google_cloud_pipeline_components
import yaml

GCPC_VERSION = google_cloud_pipeline_components.__version__
GCPC_IMAGE = f"gcr.io/ml-pipeline/google-cloud-pipeline-components:{GCPC_VERSION}"
LAUNCHERS = "google_cloud_pipeline_components.container.v1"

# Task display names set by pipelines/targets.py (the names shown in the Vertex AI console).
SINGLE, MULTI, POOLS = "train", "train-multi-worker", "worker-pools"
PARENT, UPLOAD, ENDPOINT, DEPLOY = "find-parent-model", "upload-model", "endpoint", "deploy-model"
RETIRE, MONITOR = "undeploy-idle-models", "model-monitoring"
DEPLOY_TASKS = (PARENT, UPLOAD, ENDPOINT, DEPLOY, RETIRE, MONITOR)
VERTEX_ONLY_TASKS = {MULTI, POOLS, *DEPLOY_TASKS}
# The model whichever training branch ran (dsl.OneOf of both).
TRAINED_MODEL = ("output", frozenset({(SINGLE, "model"), (MULTI, "model")}))

INPUT_PLACEHOLDER = re.compile(r"\{\{\$\.inputs\.parameters\['([^']+)'\]\}\}")
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
        return self.doc["components"][task.spec["componentRef"]["name"]].get("inputDefinitions", {})

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


def arg_after(args: list, flag: str):
    return args[args.index(flag) + 1]


def pipeline_defaults(spec: Spec) -> dict:
    parameters = spec.doc["root"]["inputDefinitions"]["parameters"]
    return {name: p["defaultValue"] for name, p in parameters.items() if "defaultValue" in p}


def blessing_producers(spec: Spec) -> list[str]:
    """The task whose `Output` the "blessed" condition checks (evaluation)."""
    kind, producers = spec.trigger_source(spec.task("blessed"), BLESSED_CONDITION)
    assert kind == "output"
    assert {key for _, key in producers} == {"Output"}
    return sorted(name for name, _ in producers)
