"""Local model registry: numbered versions, the champion alias, nothing half-registered."""

import json
import shutil
import threading
from pathlib import Path

import pytest

from serving.contracts.errors import InputError
from serving.registry.local_registry import LocalModelRegistry


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


INCOMPLETE_EXPORTS = {  # how, and what register says: what version_problem would say
    "no metadata.json": (lambda m: (m / "metadata.json").unlink(), "is incomplete (no metadata"),
    "no saved_model.pb": (
        lambda m: (m / "saved_model.pb").unlink(),
        "is incomplete (no saved_model.pb)",
    ),
    "metadata.json a list": (
        lambda m: (m / "metadata.json").write_text("[1]"),
        "has a metadata.json that is not a JSON object",
    ),
    "metadata.json truncated": (
        lambda m: (m / "metadata.json").write_text('{"classes": '),
        "has a metadata.json that cannot be read",
    ),
    "saved_model.pb a folder": (
        lambda m: [(m / "saved_model.pb").unlink(), (m / "saved_model.pb").mkdir()],
        "is incomplete (no saved_model.pb)",
    ),
}


@pytest.mark.parametrize("case", INCOMPLETE_EXPORTS)
def test_incomplete_export_is_refused_and_nothing_registered(tmp_path, exported, case):
    """register refuses what version_problem would call incomplete, in the same words."""
    breaking, problem = INCOMPLETE_EXPORTS[case]
    registry = LocalModelRegistry(tmp_path / "registry")
    registry.register("vision", exported, champion=False)  # complete: version 1
    for model in (exported, registry.version_dir("vision", 1)):
        breaking(model)
    with pytest.raises(InputError) as refused:
        registry.register("vision", exported)
    message = str(refused.value)
    assert message.startswith(f"{exported} cannot be registered: it {problem}"), message
    assert "Traceback" not in message and "\n" not in message
    served = registry.version_problem("vision", 1)
    assert served.startswith(f"{registry.version_dir('vision', 1)} {problem}"), served
    assert registry.versions("vision") == [1]
    assert registry.champion("vision") is None


def test_failed_copy_leaves_no_version(tmp_path, exported, monkeypatch):
    """The copy failure is injected (a full disk cannot be staged portably)."""
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


ROLLBACK_BREAKS = {
    "folder deleted": (lambda path: shutil.rmtree(path), "versions/2 is missing"),
    "saved model gone": (
        lambda path: (path / "saved_model.pb").unlink(),
        "versions/2 is incomplete (no saved_model.pb)",
    ),
    "metadata truncated": (
        lambda path: (path / "metadata.json").write_text("{"),
        "versions/2 has a metadata.json that cannot be read",
    ),
}


@pytest.mark.parametrize("case", ROLLBACK_BREAKS)
def test_rollback_to_a_broken_previous_champion_is_refused_by_name(tmp_path, exported, case):
    breaking, problem = ROLLBACK_BREAKS[case]
    registry = LocalModelRegistry(tmp_path)
    for _ in range(3):
        registry.register("vision", exported)
    breaking(registry.version_dir("vision", 2))
    with pytest.raises(InputError) as refused:
        registry.rollback("vision")
    message = str(refused.value)
    assert "cannot roll back to its previous champion, version 2" in message
    assert problem in message and f"make registry-check REGISTRY={tmp_path}" in message
    assert "\n" not in message
    assert registry.champion("vision").version == 3  # nothing changed
    assert registry.champion_history("vision") == [1, 2, 3]
