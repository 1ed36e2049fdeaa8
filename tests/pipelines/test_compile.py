"""Compiled pipelines load back into kfp and keep their interface and deploy gate."""

import os
import subprocess
import sys

import pytest
import yaml
from kfp import components

from components.container_images import PIPELINE_IMAGE
from pipelines.catalog import ALL_PIPELINES, PIPELINES, get_pipeline
from pipelines.cli import main
from pipelines.compile import compile_pipeline
from pipelines.parameters import (
    parameter_value_problems,
    parse_overrides,
    pipeline_parameters,
)
from tests.conftest import REPO


def test_every_pipeline_compiles_to_yaml_that_kfp_loads(tmp_path):
    for name in PIPELINES:
        path = compile_pipeline(name, tmp_path)
        loaded = components.load_component_from_file(str(path))
        assert loaded.name
        spec = yaml.safe_load(path.read_text())
        parameters = spec["root"]["inputDefinitions"]["parameters"]
        assert {"source_uri", "source_query"} & set(parameters), name


@pytest.mark.parametrize(
    ("target", "champion"), [("vertex", "find-vertex-champion"), ("local", "find-local-champion")]
)
def test_the_monitoring_pipeline_monitors_the_targets_champion(tmp_path, target, champion):
    spec = yaml.safe_load(compile_pipeline("monitoring", tmp_path, target=target).read_text())
    tasks = spec["root"]["dag"]["tasks"]
    assert set(tasks) == {champion, "monitor-served-traffic"}
    argument = tasks["monitor-served-traffic"]["inputs"]["parameters"]["model_uri"]
    assert argument["taskOutputParameter"]["producerTask"] == champion
    assert not tasks["monitor-served-traffic"]["cachingOptions"].get("enableCache")
    parameters = spec["root"]["inputDefinitions"]["parameters"]
    assert {"model_name", "request_log_uri", "window_hours", "feature_thresholds"} <= set(
        parameters
    )


def test_the_monitoring_pipelines_values_are_checked_before_a_run():
    problems = parameter_value_problems(None, {"window_hours": 0, "skew_threshold": 2}, {})
    assert any("window_hours=0 is out of range" in p for p in problems), problems
    assert any("skew_threshold=2 is out of range" in p for p in problems), problems
    problems = parameter_value_problems(None, {"feature_thresholds": {"x": "high"}}, {})
    assert problems == [
        "feature_thresholds has {'x': 'high'}: each threshold is a number from 0 (unwatched) to 1."
    ]


def test_per_feature_drift_thresholds_are_checked_before_a_run():
    problems = parameter_value_problems("text", {"drift_thresholds": {"label": 2}}, {})
    assert any("drift_thresholds has {'label': 2}" in p for p in problems), problems
    assert parameter_value_problems("text", {"drift_thresholds": {"label": 0.2}}, {}) == []


def test_local_target_gates_the_local_registry_on_the_blessing(tmp_path):
    spec = yaml.safe_load(compile_pipeline("vision", tmp_path, target="local").read_text())
    tasks = spec["root"]["dag"]["tasks"]
    [blessed] = [name for name, task in tasks.items() if task["taskInfo"]["name"] == "blessed"]
    gate = tasks[blessed]["triggerPolicy"]["condition"]
    assert "evaluate-image-classifier" in gate and "Output" in gate
    assert "register-model-locally" in spec["components"][f"comp-{blessed}"]["dag"]["tasks"]
    images = {e["container"]["image"] for e in spec["deploymentSpec"]["executors"].values()}
    assert images == {PIPELINE_IMAGE}
    params = spec["root"]["inputDefinitions"]["parameters"]
    assert params["accuracy_threshold"]["defaultValue"] == 0.8


def test_cli_compile_writes_every_pipeline(tmp_path, capsys):
    main(["compile", "--out-dir", str(tmp_path)])
    assert sorted(p.stem for p in tmp_path.glob("*.yaml")) == sorted(ALL_PIPELINES)
    assert "Compiled vision" in capsys.readouterr().out


def test_overrides_are_typed_by_the_pipeline_and_checked():
    pipeline = pipeline_parameters(get_pipeline("vision"))
    assert parse_overrides(
        ["accuracy_threshold=1", "head_epochs=3", "augment_flip=none", "model_name=a=b"], pipeline
    ) == {"accuracy_threshold": 1.0, "head_epochs": 3, "augment_flip": "none", "model_name": "a=b"}
    assert isinstance(
        parse_overrides(["accuracy_threshold=1"], pipeline)["accuracy_threshold"], float
    )
    with pytest.raises(SystemExit, match="KEY=VALUE"):
        parse_overrides(["novalue"], pipeline)
    with pytest.raises(SystemExit, match=r"no such parameter\. Valid: .*accuracy_threshold"):
        parse_overrides(["acuracy_threshold=0.5"], pipeline)
    with pytest.raises(SystemExit, match=r"expected an int, e\.g\. --set head_epochs=3"):
        parse_overrides(["head_epochs=many"], pipeline)
    assert parse_overrides(['traffic_split={"0": 10, "123": 90}'], pipeline) == {
        "traffic_split": {"0": 10, "123": 90}
    }
    with pytest.raises(SystemExit, match="expected a dict"):
        parse_overrides(["traffic_split=[100]"], pipeline)


def test_compile_uses_the_configured_image(tmp_path):
    env = {**os.environ, "PIPELINE_IMAGE": "europe-docker.pkg.dev/p/r/pipeline:v7"}
    subprocess.run(
        [sys.executable, "-m", "pipelines", "compile", "vision", "--out-dir", str(tmp_path)],
        check=True, env=env, cwd=REPO, capture_output=True,
    )  # fmt: skip
    spec = yaml.safe_load((tmp_path / "vision.yaml").read_text())
    images = {e["container"]["image"] for e in spec["deploymentSpec"]["executors"].values()}
    assert "europe-docker.pkg.dev/p/r/pipeline:v7" in images
    assert not any("your-project" in image for image in images)
