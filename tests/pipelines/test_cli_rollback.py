"""`make rollback` (python -m pipelines rollback): the pipeline's model, in the local registry."""

import json

import pytest

from pipelines.cli import main
from serving.registry.local_registry import LocalModelRegistry


def _export(path):
    path.mkdir(parents=True)
    (path / "metadata.json").write_text(json.dumps({"task": "forecasting"}))
    (path / "saved_model.pb").write_bytes(b"graph")
    return path


def test_rollback_restores_the_previous_champion_of_the_pipelines_model(tmp_path, capsys):
    registry = LocalModelRegistry(tmp_path / "registry")
    for _ in range(2):
        registry.register("forecaster", _export(tmp_path / f"m{_}"))  # timeseries' model_name
    main(["rollback", "timeseries", "--registry", str(registry.root)])
    assert "forecaster: champion is now version 1 (was version 2)" in capsys.readouterr().out
    assert registry.champion("forecaster").version == 1
    with pytest.raises(SystemExit, match=r"rollback: .* no earlier champion to roll back to"):
        main(["rollback", "timeseries", "--registry", str(registry.root)])


def test_rollback_with_the_aliases_file_gone_says_there_was_no_champion(tmp_path, capsys):
    registry = LocalModelRegistry(tmp_path / "registry")
    for _ in range(2):
        registry.register("forecaster", _export(tmp_path / f"m{_}"))
    (registry.root / "forecaster" / "aliases.json").unlink()
    main(["rollback", "timeseries", "--registry", str(registry.root)])
    out = capsys.readouterr().out
    assert "forecaster: champion is now version 1 (was none)" in out
    assert registry.champion("forecaster").version == 1


def test_rollback_on_a_corrupt_aliases_file_is_one_line(tmp_path):
    registry = LocalModelRegistry(tmp_path / "registry")
    registry.register("forecaster", _export(tmp_path / "m"))
    (registry.root / "forecaster" / "aliases.json").write_text('{"champion": ')
    with pytest.raises(SystemExit, match=r"^rollback: The registry file .*aliases\.json"):
        main(["rollback", "timeseries", "--registry", str(registry.root)])
