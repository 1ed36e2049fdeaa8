"""Traffic splits over versions and aliases, and the hot swap when the registry's champion moves."""

import shutil
from pathlib import Path

import numpy as np
import pytest

from serving.contracts.errors import InputError
from serving.registry.local_registry import LocalModelRegistry
from serving.server.deployments import Deployment, parse_traffic
from serving.server.loaded_model import LoadedModel


def _answer(deployment: Deployment, version: int) -> float:
    served = deployment.split.versions[version]
    return float(served.batcher.predict(np.array([[1, 1, 1]], np.float32))["total"][0])


def test_traffic_is_parsed_and_must_add_up_to_100():
    assert parse_traffic("champion:90, 3:10") == (("champion", 90), ("3", 10))
    with pytest.raises(InputError, match="add up to 95, not 100"):
        parse_traffic("champion:90,3:5")
    with pytest.raises(InputError, match="VERSION_OR_ALIAS:PERCENT"):
        parse_traffic("champion=100")


def test_aliases_and_numbers_resolve_to_versions(registry):
    deployment = Deployment(registry, "scaler", (("champion", 60), ("1", 30), ("2", 10)))
    assert deployment.resolve() == (((1, 30), (2, 70)), {"champion": 2})


@pytest.mark.parametrize(
    ("name", "traffic", "message"),
    [
        ("scaler", (("challenger", 100),), r"no version 'challenger' \(versions \[1, 2\]"),
        ("scaler", (("7", 100),), "no version '7'"),
        ("vision", (("champion", 100),), "has no model 'vision': run `make run`"),
    ],
)
def test_what_cannot_be_served_is_refused_at_start(registry, name, traffic, message):
    with pytest.raises(InputError, match=message):
        Deployment(registry, name, traffic)


def test_refresh_loads_the_new_champion_and_retires_the_old(registry, scaler_exports):
    deployment = Deployment(registry, "scaler")
    assert deployment.split is None and deployment.refresh()
    old = deployment.split.versions[2]
    assert _answer(deployment, 2) == 6.0  # version 2 doubles
    assert not deployment.refresh()  # nothing changed
    registry.register("scaler", scaler_exports[2])
    assert deployment.refresh()
    assert set(deployment.split.versions) == {3} and _answer(deployment, 3) == 9.0
    assert deployment.split.aliases == {"champion": 3}
    # a request that picked version 2 before the swap still gets its answer
    assert float(old.batcher.predict(np.array([[1, 1, 1]], np.float32))["total"][0]) == 6.0
    deployment.close()


def test_a_version_that_will_not_load_leaves_the_old_one_serving(registry, tmp_path):
    deployment = Deployment(registry, "scaler")
    deployment.refresh()
    broken = tmp_path / "broken"
    broken.mkdir()
    (broken / "metadata.json").write_text("{}")
    (broken / "saved_model.pb").write_bytes(b"not a graph")
    registry.register("scaler", broken)  # version 3 becomes champion
    assert not deployment.refresh()
    assert set(deployment.split.versions) == {2} and _answer(deployment, 2) == 6.0
    assert "version 3 of scaler did not load" in deployment.error
    deployment.close()


def test_a_vanished_alias_keeps_the_current_split(registry):
    deployment = Deployment(registry, "scaler")
    deployment.refresh()
    (registry.root / "scaler" / "aliases.json").write_text("{}")
    assert not deployment.refresh()
    assert set(deployment.split.versions) == {2}
    deployment.close()


def test_an_empty_registry_names_the_fix(tmp_path):
    with pytest.raises(InputError, match="no model 'scaler'"):
        Deployment(LocalModelRegistry(tmp_path), "scaler")


def test_a_label_moved_to_a_served_version_is_followed_without_reloading(registry):
    deployment = Deployment(registry, "scaler", (("1", 50), ("2", 50)))
    deployment.refresh()
    versions = deployment.split.versions
    registry.rollback("scaler")  # champion: 2 -> 1, both already served
    assert not deployment.refresh()  # no version loaded or retired
    assert deployment.split.aliases == {"champion": 1} and deployment.split.versions is versions
    deployment.close()


@pytest.mark.parametrize(
    "parts", ["champion:²", "champion:١٠٠", "champion:１００", "champion:" + "1" * 5000]
)
def test_a_percentage_of_other_digits_is_refused_by_name(parts):
    """'²' passes isdigit() but not int(): once a ValueError traceback."""
    with pytest.raises(InputError) as refused:
        parse_traffic(parts)
    assert str(refused.value).startswith(f"Traffic {parts!r}: each part is VERSION_OR_ALIAS")


def _unloadable(export: Path, target: Path, how: str) -> Path:
    """A copy of `export` that register takes but TensorFlow cannot load."""
    shutil.copytree(export, target)
    if how == "garbled graph":
        (target / "saved_model.pb").write_bytes(b"not a graph")
    else:
        shutil.rmtree(target / "variables")
    return target


@pytest.mark.parametrize("how", ["garbled graph", "variables gone"])
def test_a_version_that_will_not_load_is_loaded_again_only_once_its_files_change(
    registry, scaler_exports, tmp_path, how
):
    loads = []

    def counted(name: str, version: int, path: Path) -> LoadedModel:
        loads.append(version)
        return LoadedModel(name, version, path)

    deployment = Deployment(registry, "scaler", load=counted)
    deployment.refresh()
    registry.register("scaler", _unloadable(scaler_exports[2], tmp_path / "broken", how))
    for _ in range(3):
        assert not deployment.refresh()
        assert "version 3 of scaler did not load" in deployment.error  # reported every time
    assert loads == [2, 3]  # one try, not one a poll
    shutil.copytree(scaler_exports[2], registry.version_dir("scaler", 3), dirs_exist_ok=True)
    assert deployment.refresh() and deployment.error == ""
    assert loads == [2, 3, 3] and _answer(deployment, 3) == 9.0
    deployment.close()
