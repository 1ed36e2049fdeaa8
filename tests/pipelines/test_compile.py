"""Compiled pipelines load back into kfp and keep their interface and deploy gate."""

import pytest
import yaml
from kfp import components

from components.images import PIPELINE_IMAGE
from pipelines.catalog import PIPELINES
from pipelines.cli import main, parse_overrides
from pipelines.compile import compile_pipeline


def test_every_pipeline_compiles_to_yaml_that_kfp_loads(tmp_path):
    for name in PIPELINES:
        path = compile_pipeline(name, tmp_path)
        loaded = components.load_component_from_file(str(path))
        assert loaded.name
        spec = yaml.safe_load(path.read_text())
        assert "source_uri" in spec["root"]["inputDefinitions"]["parameters"]


def test_vision_yaml_gates_deploy_on_the_blessing_and_names_the_image(tmp_path):
    spec = yaml.safe_load(compile_pipeline("vision", tmp_path).read_text())
    tasks = spec["root"]["dag"]["tasks"]
    gate = tasks["condition-1"]["triggerPolicy"]["condition"]
    assert "evaluate-image-classifier" in gate and "Output" in gate
    assert "register-model-locally" in spec["components"]["comp-condition-1"]["dag"]["tasks"]
    images = {e["container"]["image"] for e in spec["deploymentSpec"]["executors"].values()}
    assert images == {PIPELINE_IMAGE}
    params = spec["root"]["inputDefinitions"]["parameters"]
    assert params["accuracy_threshold"]["defaultValue"] == 0.8


def test_cli_compile_writes_every_pipeline(tmp_path, capsys):
    main(["compile", "--out-dir", str(tmp_path)])
    assert sorted(p.stem for p in tmp_path.glob("*.yaml")) == sorted(PIPELINES)
    assert "Compiled vision" in capsys.readouterr().out


def test_overrides_parse_json_values_and_refuse_malformed_pairs():
    assert parse_overrides(["a=1", "b=0.5", "c=true", "d=text", "e=x=y"]) == {
        "a": 1,
        "b": 0.5,
        "c": True,
        "d": "text",
        "e": "x=y",
    }
    with pytest.raises(SystemExit, match="KEY=VALUE"):
        parse_overrides(["novalue"])
