"""Local model registry: numbered versions, the champion alias, nothing half-registered."""

import json
import threading
from pathlib import Path

import pytest

from serving.contracts.errors import InputError
from serving.registry.local_registry import LocalModelRegistry


@pytest.fixture
def exported(tmp_path):
    """A stand-in export directory: the registry only copies files and reads metadata.json."""
    model = tmp_path / "export"
    (model / "variables").mkdir(parents=True)
    (model / "saved_model.pb").write_bytes(b"graph")
    (model / "metadata.json").write_text(json.dumps({"classes": ["a", "b"]}))
    return model


def test_versions_increment_and_champion_follows(tmp_path, exported):
    registry = LocalModelRegistry(tmp_path / "registry")
    assert registry.champion("vision") is None
    first = registry.register("vision", exported)
    second = registry.register("vision", exported, labels={"run": "2"})
    assert (first.version, second.version) == (1, 2)
    assert registry.versions("vision") == [1, 2]
    assert registry.champion("vision") == second
    assert (second.path / "saved_model.pb").read_bytes() == b"graph"
    registration = json.loads((second.path / "registration.json").read_text())
    assert registration["labels"] == {"run": "2"} and registration["version"] == 2
    assert second.resource_name == "local/models/vision/versions/2"


def test_registering_without_promotion_keeps_the_champion(tmp_path, exported):
    registry = LocalModelRegistry(tmp_path)
    registry.register("vision", exported)
    registry.register("vision", exported, champion=False)
    assert registry.champion("vision").version == 1
    assert registry.versions("vision") == [1, 2]


def test_incomplete_export_is_refused_and_nothing_registered(tmp_path, exported):
    (exported / "metadata.json").unlink()
    registry = LocalModelRegistry(tmp_path / "registry")
    with pytest.raises(FileNotFoundError, match="incomplete"):
        registry.register("vision", exported)
    assert registry.versions("vision") == []
    assert registry.champion("vision") is None


def test_failed_copy_leaves_no_version(tmp_path, exported, monkeypatch):
    """The copy failure is injected (a full disk cannot be staged portably)."""
    import shutil

    registry = LocalModelRegistry(tmp_path / "registry")

    def broken_copy(src, dst, **kwargs):
        Path(dst).mkdir(parents=True)
        (Path(dst) / "saved_model.pb").write_bytes(b"gra")  # half copied
        raise OSError("No space left on device")

    monkeypatch.setattr(shutil, "copytree", broken_copy)
    with pytest.raises(OSError):
        registry.register("vision", exported)
    versions_dir = tmp_path / "registry" / "vision" / "versions"
    assert list(versions_dir.iterdir()) == [], "the half-copied .incoming-* directory is removed"
    assert registry.champion("vision") is None


def test_concurrent_registrations_get_distinct_versions(tmp_path, exported):
    registry = LocalModelRegistry(tmp_path)
    threads = [
        threading.Thread(target=registry.register, args=("vision", exported)) for _ in range(6)
    ]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=60)
    assert registry.versions("vision") == [1, 2, 3, 4, 5, 6]


@pytest.mark.parametrize("name", ["", "../escape", "a b"])
def test_bad_model_names_are_refused(tmp_path, exported, name):
    with pytest.raises(InputError, match=r"model_name=.* is not allowed"):
        LocalModelRegistry(tmp_path).register(name, exported)


@pytest.mark.parametrize("root", ["gs://bucket/registry", "/gcs/bucket/registry"])
def test_cloud_storage_registry_roots_are_refused(root):
    with pytest.raises(InputError, match="local disk"):
        LocalModelRegistry(root)


def test_rollback_restores_the_previous_champion_and_keeps_every_version(tmp_path, exported):
    registry = LocalModelRegistry(tmp_path)
    for _ in range(3):
        registry.register("vision", exported)
    registry.register("vision", exported, champion=False)  # version 4, never champion
    assert registry.champion_history("vision") == [1, 2, 3]
    assert registry.rollback("vision").version == 2
    assert registry.champion("vision").version == 2
    assert registry.rollback("vision").version == 1
    assert registry.versions("vision") == [1, 2, 3, 4]  # nothing is deleted
    with pytest.raises(
        InputError, match=r"no earlier champion to roll back to \(champion: version 1\)"
    ):
        registry.rollback("vision")
    assert registry.register("vision", exported).version == 5  # a new champion after rollbacks
    assert registry.champion_history("vision") == [1, 5]


def test_rolling_back_a_model_never_registered_is_refused(tmp_path):
    with pytest.raises(InputError, match="has no model 'text': nothing to roll back"):
        LocalModelRegistry(tmp_path).rollback("text")
    assert list(tmp_path.iterdir()) == []
