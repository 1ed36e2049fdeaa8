"""Notifications: on Vertex AI, with VERTEX_NOTIFICATION_EMAILS set at compile time, the whole
pipeline runs inside an exit handler that mails them; otherwise, and always locally, the
pipeline is left as it is (its outputs, which the local runner and the tests read).

kfp refuses pipeline outputs returned from inside a dsl.ExitHandler, hence the wrapper:
the compiled spec has the same parameters, no outputs, and the original pipeline as one
nested task inside the handler, its inputs still wired from the pipeline's parameters.
"""

import pytest
from kfp import compiler, dsl

from pipelines.catalog import get_pipeline
from pipelines.notifications import EXIT_HANDLER, NOTIFY_TASK, RUN_TASK, with_exit_notification
from pipelines.targets import TARGETS
from pipelines.vertex.settings import SettingsError
from tests.pipelines.compiled_spec import SINGLE, Spec

NOTIFICATION_COMPONENT = "comp-vertex-pipelines-notification-email"


@pytest.fixture(scope="module")
def notified(tmp_path_factory) -> tuple[Spec, Spec]:
    """The vision pipeline compiled for Vertex AI with two recipients, and without."""
    out = tmp_path_factory.mktemp("notified")
    plain, wrapped = out / "plain.yaml", out / "notified.yaml"
    pipeline = get_pipeline("vision", "vertex")  # VERTEX_NOTIFICATION_EMAILS unset in tests
    compiler.Compiler().compile(pipeline, str(plain))
    recipients = ["ml-team@example.com", "oncall@example.com"]
    compiler.Compiler().compile(TARGETS["vertex"].notifying(pipeline, recipients), str(wrapped))
    return Spec(plain), Spec(wrapped)


def test_the_exit_handler_mails_the_recipients_whatever_the_run_did(notified):
    _, spec = notified
    root = spec.doc["root"]["dag"]["tasks"]
    assert {t["taskInfo"]["name"] for t in root.values()} == {EXIT_HANDLER, NOTIFY_TASK}
    notify = spec.task(NOTIFY_TASK)
    assert notify.spec["componentRef"]["name"] == NOTIFICATION_COMPONENT
    assert notify.spec["triggerPolicy"]["strategy"] == "ALL_UPSTREAM_TASKS_COMPLETED"
    assert not notify.spec["cachingOptions"].get("enableCache", False)
    inputs = notify.spec["inputs"]["parameters"]
    assert inputs["recipients"]["runtimeValue"]["constant"] == [
        "ml-team@example.com",
        "oncall@example.com",
    ]
    handler_key = next(k for k, t in root.items() if t["taskInfo"]["name"] == EXIT_HANDLER)
    assert inputs["pipeline_task_final_status"]["taskFinalStatus"]["producerTask"] == handler_key


def test_the_wrapped_pipeline_keeps_its_parameters_and_steps_and_returns_nothing(notified):
    plain, spec = notified
    assert spec.doc["pipelineInfo"]["name"] == plain.doc["pipelineInfo"]["name"]
    assert spec.doc["root"]["inputDefinitions"] == plain.doc["root"]["inputDefinitions"]
    assert "outputDefinitions" in plain.doc["root"]
    assert "outputDefinitions" not in spec.doc["root"]
    assert [c.name for c in spec.conditions(spec.task(RUN_TASK))] == []
    assert {t.name for t in spec.leaf_tasks()} == {t.name for t in plain.leaf_tasks()} | {
        NOTIFY_TASK
    }
    train = spec.task(SINGLE)  # wired through the handler and the nested pipeline
    assert spec.source(train, "parameters", "seed") == ("parameter", "seed")


def test_without_recipients_or_locally_the_pipeline_is_left_as_it_is(monkeypatch):
    pipeline = get_pipeline("vision", "vertex")
    assert TARGETS["vertex"].notifying(pipeline, []) is pipeline
    monkeypatch.setenv("VERTEX_NOTIFICATION_EMAILS", "ml-team@example.com")
    local = get_pipeline("vision", "local")
    assert TARGETS["local"].notifying(local) is local
    assert local.component_spec.outputs  # what the local runner reads


def test_the_setting_is_read_when_the_pipeline_is_built(monkeypatch):
    monkeypatch.setenv("VERTEX_NOTIFICATION_EMAILS", "ml-team@example.com")
    pipeline = get_pipeline("text", "vertex")
    assert not pipeline.component_spec.outputs  # the wrapper, which returns nothing
    monitoring = get_pipeline("monitoring", "vertex")  # a monitoring alert fails the run
    assert not monitoring.component_spec.outputs
    assert get_pipeline("monitoring", "local").component_spec.outputs
    monkeypatch.setenv("VERTEX_NOTIFICATION_EMAILS", "a@x.com,b@x.com,c@x.com,d@x.com")
    with pytest.raises(SettingsError, match="VERTEX_NOTIFICATION_EMAILS has 4 addresses"):
        get_pipeline("text", "vertex")
    monkeypatch.setenv("VERTEX_NOTIFICATION_EMAILS", "ml-team")
    with pytest.raises(SettingsError, match=r"has \['ml-team'\], which are not email addresses"):
        get_pipeline("text", "vertex")


def test_any_pipeline_can_be_wrapped_and_needs_a_recipient():
    @dsl.pipeline(name="tiny")
    def tiny(text: str = "x"):
        dsl.importer(artifact_uri=text, artifact_class=dsl.Artifact)

    wrapped = with_exit_notification(tiny, ["ml-team@example.com"])
    assert wrapped.name == "tiny" and list(wrapped.component_spec.inputs) == ["text"]
    with pytest.raises(ValueError, match="at least one recipient"):
        with_exit_notification(tiny, [])
