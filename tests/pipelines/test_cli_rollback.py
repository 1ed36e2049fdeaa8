"""`make rollback` (python -m pipelines rollback): the pipeline's model, in the local registry."""

import json

import pytest

from pipelines.cli import main
from serving.registry.local_registry import LocalModelRegistry


def _export(path):
    path.mkdir(parents=True)
    (path / "metadata.json").write_text(json.dumps({"task": "forecasting"}))
    return path


def test_rollback_restores_the_previous_champion_of_the_pipelines_model(tmp_path, capsys):
    registry = LocalModelRegistry(tmp_path / "registry")
    for _ in range(2):
        registry.register("forecaster", _export(tmp_path / f"m{_}"))  # timeseries' model_name
    main(["rollback", "timeseries", "--registry", str(registry.root)])
    assert "forecaster: champion is now version 1 (was 2)" in capsys.readouterr().out
    assert registry.champion("forecaster").version == 1
    with pytest.raises(SystemExit, match=r"rollback: .* no earlier champion to roll back to"):
        main(["rollback", "timeseries", "--registry", str(registry.root)])
