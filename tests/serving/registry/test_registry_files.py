"""Registry files read back are checked: a corrupt or hostile one is named, never followed.

aliases.json and champion_history.json are plain files anyone can edit or truncate:
what is read from them must be a version number before it becomes a path.
"""

import re
import subprocess
import sys

import pytest

from serving.contracts.errors import InputError
from serving.registry.local_registry import LocalModelRegistry
from tests.conftest import REPO

BAD_ALIASES = {
    '{"champion": 2': "is not valid JSON",  # truncated mid-write by hand
    "": "is not valid JSON",
    '{"champion": "../planted"}': 'holds {"champion": "../planted"}',
    '{"champion": "2"}': 'holds {"champion": "2"}',
    '{"champion": true}': "holds",
    '{"champion": -1}': "holds",
    '{"champion": 1.5}': "holds",
    "[2]": "holds [2]",
}
BAD_HISTORY = {
    "[1, 2": "is not valid JSON",
    '[1, "../x"]': 'holds [1, "../x"]',
    '{"a": 1}': "holds",
}


@pytest.fixture
def registry(tmp_path, exported) -> LocalModelRegistry:
    registry = LocalModelRegistry(tmp_path / "registry")
    registry.register("vision", exported)
    registry.register("vision", exported)
    return registry


@pytest.mark.parametrize(("text", "problem"), BAD_ALIASES.items())
def test_a_corrupt_alias_file_is_named_with_the_repair(registry, text, problem):
    path = registry.root / "vision" / "aliases.json"
    path.write_text(text)
    with pytest.raises(InputError) as raised:
        registry.champion("vision")
    message = str(raised.value)
    assert f"The registry file {path} is corrupt: it {problem}" in message
    assert f"Repair: `make registry-check REGISTRY={registry.root} REPAIR=1`" in message
    assert not (registry.root / "planted").exists()


@pytest.mark.parametrize(("text", "problem"), BAD_HISTORY.items())
def test_a_corrupt_history_stops_rollback_and_leaves_the_champion(registry, text, problem):
    path = registry.root / "vision" / "champion_history.json"
    path.write_text(text)
    with pytest.raises(InputError) as raised:
        registry.rollback("vision")
    assert f"{path} is corrupt: it {problem}" in str(raised.value)
    assert registry.champion("vision").version == 2
    assert path.read_text() == text  # nothing rewritten over the evidence


@pytest.mark.parametrize("name", ["../x", "a/b", "", "vision ", "ünïcode", "..", "a\\b"])
def test_a_model_name_that_is_no_plain_directory_name_is_refused(registry, exported, name):
    for call in (
        lambda: registry.register(name, exported),
        lambda: registry.champion(name),
        lambda: registry.rollback(name),
    ):
        with pytest.raises(
            InputError, match=r"model_name=.* is not allowed: it must be 1 to 128 ASCII letters"
        ):
            call()


def test_make_rollback_on_a_corrupt_registry_is_one_line_not_a_traceback(registry):
    (registry.root / "forecaster").mkdir()
    (registry.root / "forecaster" / "aliases.json").write_text('{"champion": ')
    done = subprocess.run(
        [sys.executable, "-m", "pipelines", "rollback", "timeseries", "--registry",
         str(registry.root)],
        cwd=REPO, capture_output=True, text=True, timeout=120,
    )  # fmt: skip
    assert done.returncode == 1
    assert "Traceback" not in done.stderr
    assert "aliases.json is corrupt: it is not valid JSON" in done.stderr


@pytest.mark.parametrize(
    ("name", "text", "problem"),
    [
        ("aliases.json", '{"champion": 2', "is not valid JSON"),
        ("aliases.json", '{"champion": "../x"}', 'holds {"champion": "../x"}'),
        ("champion_history.json", "[1, 2", "is not valid JSON"),
        ("champion_history.json", "[0]", "holds [0]"),
    ],
)
def test_a_refused_register_leaves_the_registry_as_it_was(registry, exported, name, text, problem):
    """The files register would update are checked before the copy: no half-registered version."""
    path = registry.root / "vision" / name
    path.write_text(text)
    versions = registry.root / "vision" / "versions"
    before = sorted(p.name for p in versions.iterdir())
    with pytest.raises(InputError, match=f"{name} is corrupt: it {re.escape(problem)}"):
        registry.register("vision", exported)
    assert sorted(p.name for p in versions.iterdir()) == before == ["1", "2"]
    assert path.read_text() == text


def test_a_directory_where_a_registry_file_belongs_is_named(registry):
    path = registry.root / "vision" / "aliases.json"
    path.unlink()
    path.mkdir()
    with pytest.raises(InputError, match=f"The registry file {path} cannot be read \\(Is a dir"):
        registry.champion("vision")


@pytest.mark.parametrize("stray", ["²", "01", "0", "3x", ".incoming-abc"])
def test_only_directories_named_as_the_registry_names_versions_are_versions(registry, stray):
    """A name isdigit() accepts but int() refuses ('²') once killed the server's watcher."""
    (registry.root / "vision" / "versions" / stray).mkdir()
    assert registry.versions("vision") == [1, 2]
