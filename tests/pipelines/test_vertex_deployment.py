"""Evaluation and deployment on each target, read from the compiled YAML.

For each pipeline of the catalog: evaluation compares the new model with the
champion, found uncached; on Vertex AI, upload (under the parent model, as
the default version and the champion), endpoint lookup and deployment run
only when evaluation blesses the model, uncached, with the serving
parameters, and models left without traffic are undeployed after it, then
Vertex AI Model Monitoring is configured on the endpoint; the local target
registers the model in the local registry instead.
"""

from __future__ import annotations

import pytest
from kfp import dsl

from components.container_images import PIPELINE_IMAGE
from tests.pipelines.compiled_spec import (
    DEPLOY,
    DEPLOY_TASKS,
    ENDPOINT,
    GCPC_IMAGE,
    LAUNCHERS,
    MONITOR,
    PARENT,
    RETIRE,
    SINGLE,
    TRAINED_MODEL,
    UPLOAD,
    VERTEX_ONLY_TASKS,
    arg_after,
    blessing_producers,
)

UPLOAD_LAUNCHER = f"{LAUNCHERS}.model.upload_model.launcher"
DEPLOY_LAUNCHER = f"{LAUNCHERS}.endpoint.deploy_model.launcher"


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
        # the model serves as its own account (infra/terraform/iam.tf), not a Google-managed one
        "service_account": ("parameter", "endpoint_service_account"),
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


def test_model_monitoring_is_configured_after_idle_models_are_undeployed(compiled):
    """On the endpoint, for the version just uploaded, from the trained model's baseline."""
    vertex = compiled.vertex
    monitor = vertex.task(MONITOR)
    container = vertex.container(monitor)
    assert container["image"] == PIPELINE_IMAGE
    assert arg_after(container["args"], "--function_to_execute") == "configure_model_monitoring"
    assert vertex.source(monitor, "artifacts", "endpoint") == (
        "output",
        frozenset({(ENDPOINT, "endpoint")}),
    )
    assert vertex.source(monitor, "artifacts", "registered_model") == (
        "output",
        frozenset({(UPLOAD, "model")}),
    )
    assert vertex.source(monitor, "artifacts", "model") == TRAINED_MODEL
    parameters = {
        n: vertex.source(monitor, "parameters", n) for n in monitor.spec["inputs"]["parameters"]
    }
    settings = ["model_monitoring", "monitoring_sample_rate", "monitoring_interval_hours"]
    settings += ["monitoring_alert_emails", "drift_threshold", "drift_thresholds"]
    assert parameters == {name: ("parameter", name) for name in settings}
    retire_key = next(
        k for k, t in vertex.dags[monitor.dag]["tasks"].items() if t is vertex.task(RETIRE).spec
    )
    assert retire_key in monitor.spec["dependentTasks"]
    defaults = vertex.component_inputs(monitor)["parameters"]
    assert defaults["project"]["defaultValue"] == "{{$.pipeline_google_cloud_project_id}}"
