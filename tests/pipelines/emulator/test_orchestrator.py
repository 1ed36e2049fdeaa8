"""The emulator's orchestrator runs Vertex-compiled IR as Vertex AI Pipelines would.

A tiny pipeline (orchestrator_pipeline.py) is compiled for Vertex AI and run
from its YAML with real step processes. A plain directory plays Cloud Storage
FUSE; no storage emulator and no GCPC launcher are involved.
"""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import kfp
import pytest
import yaml
from kfp import compiler
from kfp.dsl.types.type_utils import InconsistentTypeException
from kfp.local import config, subprocess_task_handler

from pipelines.emulator.orchestrator import kfp_runtime
from pipelines.emulator.orchestrator.pipeline_run import (
    PipelineRunError,
    VertexRunContext,
    run_pipeline_spec,
    step_environment,
)
from pipelines.emulator.orchestrator.placeholders import Resolver, protojson
from pipelines.notifications import with_exit_notification
from tests.pipelines.emulator.orchestrator_pipeline import (
    check_pipeline,
    failing_pipeline,
    passing_pipeline,
)

JOB = "job-1"
ROOT = "gs://bucket/root"


def compiled(pipeline, tmp_path: Path) -> dict:
    path = tmp_path / "pipeline.yaml"
    compiler.Compiler().compile(pipeline, str(path))
    return yaml.safe_load(path.read_text())


def context(fuse_root: Path, **overrides) -> tuple[VertexRunContext, list[str], list[str]]:
    """A run's context, with the events and hook calls it will see."""
    events: list[str] = []
    hooks: list[str] = []
    values = {
        "project": "test-project",
        "location": "us-central1",
        "job_id": JOB,
        "job_resource_name": f"projects/test-project/locations/us-central1/pipelineJobs/{JOB}",
        "pipeline_root": ROOT,
        "fuse_root": fuse_root,
        "before_step": lambda: hooks.append("before"),
        "after_step": lambda: hooks.append("after"),
        "on_event": events.append,
    }
    values.update(overrides)
    return VertexRunContext(**values), events, hooks


@pytest.fixture(scope="module")
def check_run(tmp_path_factory):
    tmp = tmp_path_factory.mktemp("check")
    run, events, hooks = context(tmp / "fuse")
    outputs = run_pipeline_spec(compiled(check_pipeline, tmp), {}, run)
    return outputs, run, events, hooks


def test_container_component_gets_vertex_placeholders_and_numbers(check_run):
    _, run, _, _ = check_run
    summary = json.loads((run.fuse_root / f"bucket/root/{JOB}/report/summary").read_text())
    assert summary == {
        "project": "test-project",  # {{$.pipeline_google_cloud_project_id}}
        "count": "100",  # a float 100.0, written as protojson writes it
        "payload_count": 100,  # {{$.json_escape[1]}} parsed back into the executor input
        "payload_outputs": ["report"],
    }


def test_oneof_artifact_is_a_gs_uri_whose_file_is_in_fuse_root(check_run):
    outputs, run, _, _ = check_run
    dataset = outputs["chosen"]
    assert dataset.uri == f"{ROOT}/{JOB}/make-dataset/data"
    assert dataset.schema_title == "system.Dataset"
    # check-specs got accelerator_count as an int (else it fails): 2 * 10 >= 20 takes If
    assert (run.fuse_root / f"bucket/root/{JOB}/make-dataset/data").read_text() == "big"


def test_container_output_artifact_is_declared_with_its_type(check_run):
    outputs, run, _, _ = check_run
    report = outputs["report"]
    assert report.uri == f"{ROOT}/{JOB}/report/report"
    assert report.schema_title == "google.UnmanagedContainerModel"
    assert (run.fuse_root / f"bucket/root/{JOB}/report/report").read_text() == "report"


def test_imported_artifact_keeps_its_type(check_run):
    imported = check_run[0]["imported"]
    assert (imported.uri, imported.schema_title) == (
        "gs://bucket/models/imported",
        "google.UnmanagedContainerModel",
    )
    assert imported.metadata == {"containerSpec": {"imageUri": "serving:latest"}}


def test_events_and_hooks_follow_each_step(check_run):
    _, _, events, hooks = check_run
    # make-dataset-3 runs because its plain dsl.If read the named output `scaled`
    tasks = ["check-specs", "make-dataset", "make-dataset-3", "read-dataset", "report"]
    started = sorted(e.split(":")[0] for e in events if e.endswith(": running"))
    assert started == sorted([*tasks, "importer"])
    assert all(any(e.startswith(f"{t}: succeeded in ") for e in events) for t in tasks)
    assert not any("make-dataset-2" in e or "warning" in e for e in events)
    assert hooks == ["before", "after"] * len(tasks)  # the importer runs no process


def test_patches_are_undone_after_a_run(check_run):
    assert (
        subprocess_task_handler.SubprocessTaskHandler.__module__ == subprocess_task_handler.__name__
    )
    instance = config.LocalExecutionConfig.instance
    assert instance is None or not instance.pipeline_root.startswith("gs://")


def test_else_branch_is_the_oneof_when_the_condition_is_false(tmp_path):
    run, _, _ = context(tmp_path / "fuse")
    outputs = run_pipeline_spec(compiled(check_pipeline, tmp_path), {"accelerator_count": 1}, run)
    assert outputs["chosen"].uri == f"{ROOT}/{JOB}/make-dataset-2/data"
    assert Path(run.fuse_root, f"bucket/root/{JOB}/make-dataset-2/data").read_text() == "small"


def test_failing_step_raises_with_its_error_and_names_foreign_images(tmp_path):
    run, events, hooks = context(tmp_path / "fuse")
    with pytest.raises(PipelineRunError) as raised:
        run_pipeline_spec(compiled(failing_pipeline, tmp_path), {"message": "boom-42"}, run)
    assert raised.value.task == "fail"
    assert "ValueError: boom-42" in raised.value.log_tail
    assert [e for e in events if e.startswith("warning")] == [
        "warning: image python:3.11 (first used by fail) is not reproduced: its command runs "
        "in this Python environment"
    ]
    assert events[-1].startswith("fail: failed after ")
    assert hooks == ["before", "after"]


@pytest.mark.parametrize("fails", [True, False])
def test_an_exit_handler_notifies_how_the_run_ended_as_vertex_does(tmp_path, fails):
    """GCPC's notification executor raises off Vertex: the emulator records the email."""
    notifications: list[dict] = []
    run, events, _ = context(tmp_path / "fuse", on_notification=notifications.append)
    pipeline = with_exit_notification(
        failing_pipeline if fails else passing_pipeline, ["ml-team@example.com"]
    )
    spec = compiled(pipeline, tmp_path)
    if fails:
        with pytest.raises(PipelineRunError) as raised:
            run_pipeline_spec(spec, {"message": "boom-7"}, run)
        assert raised.value.task == "fail"  # the run's error is the failed step's, as before
    else:
        assert run_pipeline_spec(spec, {}, run) == {}  # the wrapper returns nothing
    [notification] = notifications
    assert notification == {
        "pipeline_job": run.job_resource_name,
        "task": "notify",
        "recipients": ["ml-team@example.com"],
        "state": "FAILED" if fails else "SUCCEEDED",
        "failed_tasks": ["fail"] if fails else [],
        "error": "ValueError: boom-7" if fails else "",
    }
    assert "notify: succeeded in 0s" in events


def test_unknown_placeholder_fails_its_task_by_name(tmp_path):
    spec = compiled(failing_pipeline, tmp_path)
    spec["deploymentSpec"]["executors"]["exec-fail"]["container"]["args"].append(
        "{{$.pipeline_unknown_thing}}"
    )
    run, _, hooks = context(tmp_path / "fuse")
    with pytest.raises(PipelineRunError, match="pipeline_unknown_thing") as raised:
        run_pipeline_spec(spec, {}, run)
    assert raised.value.task == "fail"
    assert hooks == []  # no process was started


@pytest.mark.parametrize(
    ("override", "named"),
    [
        ({"pipeline_root": "/tmp/root"}, "pipeline_root"),
        ({"job_id": "Job_1"}, "job_id"),
        ({"job_resource_name": "projects/p/locations/europe-west4/pipelineJobs/job-1"}, "job_r"),
        ({"environment": {"VERTEX_EMULATOR_POLL_SECONDS": "soon"}}, "POLL_SECONDS"),
    ],
)
def test_bad_context_is_refused_by_name(tmp_path, override, named):
    with pytest.raises(ValueError, match=named):
        run_pipeline_spec({}, {}, context(tmp_path / "fuse", **override)[0])


@pytest.mark.parametrize(
    ("values", "error"),
    [({"accelerator_count": "two"}, InconsistentTypeException), ({"nope": 1}, TypeError)],
)
def test_bad_parameter_values_are_refused_by_name(tmp_path, values, error):
    run, _, hooks = context(tmp_path / "fuse")
    with pytest.raises(error, match=next(iter(values))):
        run_pipeline_spec(compiled(check_pipeline, tmp_path), values, run)
    assert hooks == []


def test_refuses_to_patch_another_kfp_version(monkeypatch):
    monkeypatch.setattr(kfp, "__version__", "2.16.0")
    with pytest.raises(RuntimeError, match=r"kfp\.local 2\.17\.0, but kfp 2\.16\.0"):
        kfp_runtime.check_kfp_version()


def test_step_site_points_kfp_and_gcpc_at_the_emulator(tmp_path):
    probe = (
        "from kfp import dsl\n"
        "from trainer.distribution.job_dirs import GCS_FUSE_ROOT\n"
        "from google_cloud_pipeline_components.container.v1.gcp_launcher import lro_remote_runner\n"
        "print(dsl.Artifact(uri='gs://b/x').path, GCS_FUSE_ROOT,"
        " lro_remote_runner._POLLING_INTERVAL_IN_SECONDS)\n"
    )

    def run(env):
        done = subprocess.run(
            ["python3", "-c", probe], env=env, capture_output=True, text=True, check=True
        )
        return done.stdout.split()

    env = step_environment(context(tmp_path)[0])
    assert run(env) == [f"{tmp_path.resolve()}/b/x", str(tmp_path.resolve()), "1.0"]
    plain = {"PATH": str(Path(sys.executable).parent)}
    assert run(plain) == ["/gcs/b/x", "/gcs", "20"]


def test_protojson_writes_numbers_as_vertex_does():
    assert protojson({"a": [100.0, 0.5, 5e-05, 1e-07, 1e21, -0.0, 3, True, None]}) == (
        '{"a":[100,0.5,0.00005,1e-7,1e+21,-0,3,true,null]}'
    )


def test_resolver_keeps_types_of_whole_placeholders_and_defers_the_executor_input():
    executor_input = {
        "inputs": {"parameterValues": {"n": 2.0, "name": 'a"b'}},
        "outputs": {"outputFile": "/fuse/out.json"},
    }
    resolver = Resolver(executor_input, {"pipeline_network": "net"}, lambda uri: uri)
    value = [
        {
            "n": "{{$.inputs.parameters['n']}}",
            "text": "x-{{$.inputs.parameters['n']}}-{{$.pipeline_network}}",
            "args": ["{{$.json_escape[1]}}", "{{$}}"],
        }
    ]
    assert resolver.parameter_value(value) == [
        {"n": 2.0, "text": "x-2-net", "args": ["{{$.json_escape[1]}}", "{{$}}"]}
    ]
    payload = resolver.command_text(
        '{"e": "{{$.json_escape[1]}}", "n": {{$.inputs.parameters[\'n\']}}}'
    )
    assert json.loads(json.loads(payload)["e"]) == executor_input
    assert json.loads(payload)["n"] == 2
    with pytest.raises(ValueError, match=r"\{\{\$\.pipeline_nope\}\}"):
        resolver.command_text("{{$.pipeline_nope}}")
