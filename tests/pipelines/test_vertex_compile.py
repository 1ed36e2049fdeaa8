"""Each compiled pipeline as a template: its parameters, its caching, the SDK's view of it.

For each pipeline of the catalog, compiled for both targets: only the source
is required and every other parameter keeps its default, the same on both
targets; only the steps that read a changing source or change Vertex AI skip
the cache; and the real google-cloud-aiplatform SDK loads the template
offline. (Training and deployment: test_vertex_training, test_vertex_deployment.)
"""

from __future__ import annotations

import inspect
from pathlib import Path

import google.auth.credentials
import pytest
from google.cloud import aiplatform

from pipelines.catalog import get_pipeline
from tests.pipelines.compiled_spec import DEPLOY_TASKS, SINGLE

# The steps that read a source whose data changes under the same name (ingest) or read or
# change the registry and endpoints: never taken from the cache (pipelines.targets.never_cached).
UNCACHED = {"ingest", "find-champion"}

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
