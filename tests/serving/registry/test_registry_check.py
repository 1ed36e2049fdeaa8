"""`python -m serving.registry.registry_check`: every broken model named, champions repaired
from the history, and never a version deleted."""

import json
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

from serving.registry.local_registry import LocalModelRegistry
from serving.registry.registry_check import check_registry, main
from tests.conftest import REPO


@pytest.fixture
def registry(tmp_path, exported) -> LocalModelRegistry:
    """'vision' with versions 1-3 (champions 1, 2, 3) and 'text' with version 1."""
    registry = LocalModelRegistry(tmp_path / "registry")
    for _ in range(3):
        registry.register("vision", exported)
    registry.register("text", exported)
    return registry


def _files(registry: LocalModelRegistry, name: str) -> tuple[dict, list]:
    home = registry.root / name
    return (
        json.loads((home / "aliases.json").read_text()),
        json.loads((home / "champion_history.json").read_text()),
    )


def _versions(registry: LocalModelRegistry) -> list[str]:
    return sorted(str(p.relative_to(registry.root)) for p in registry.root.glob("*/versions/*"))


def test_a_sound_registry_passes(registry, capsys):
    main(["--registry", str(registry.root)])
    assert "2 model(s), no problem found" in capsys.readouterr().out


BREAKS = {
    "deleted champion": (
        lambda home: shutil.rmtree(home / "versions" / "3"),
        ["vision/aliases.json", "champion is version 3", "versions/3 is missing"],
    ),
    "half-copied champion": (
        lambda home: (home / "versions" / "3" / "saved_model.pb").unlink(),
        ["vision/versions/3", "is incomplete (no saved_model.pb)"],
    ),
    "truncated aliases": (
        lambda home: (home / "aliases.json").write_text('{"champion": '),
        ["vision/aliases.json", "is corrupt: it is not valid JSON"],
    ),
    "hostile history": (
        lambda home: (home / "champion_history.json").write_text('[1, "../x"]'),
        ["vision/champion_history.json", 'holds [1, "../x"]'],
    ),
    "history out of step": (
        lambda home: (home / "champion_history.json").write_text("[1, 2]"),
        ["ends with version 2, but the champion is version 3"],
    ),
    "interrupted register": (
        lambda home: (home / "versions" / ".incoming-1f2e").mkdir(),
        ["vision/versions/.incoming-1f2e", "left by an interrupted register"],
    ),
}


@pytest.mark.parametrize("case", BREAKS)
def test_each_problem_is_named_in_the_table_and_fails_the_check(registry, capsys, case):
    breaking, shown = BREAKS[case]
    breaking(registry.root / "vision")
    with pytest.raises(SystemExit) as stopped:
        main(["--registry", str(registry.root)])
    table = capsys.readouterr().out
    assert "problem(s) in" in str(stopped.value) and "--repair fixes" in str(stopped.value)
    vision_rows = [line for line in table.splitlines() if line.startswith("vision ")]
    assert vision_rows and all(any(part in row for row in vision_rows) for part in shown), table
    assert not [line for line in table.splitlines() if line.startswith("text ")]


def test_repair_sets_the_last_complete_champion_of_the_history(registry, capsys):
    shutil.rmtree(registry.root / "vision" / "versions" / "3")  # the champion is gone
    (registry.root / "vision" / "aliases.json").write_text('{"champion": 3, "canary": 3}')
    main(["--registry", str(registry.root), "--repair"])
    out = capsys.readouterr().out
    assert "vision: champion set to version 2, from champion_history.json" in out
    assert _files(registry, "vision") == ({"champion": 2}, [1, 2])
    assert registry.champion("vision").version == 2 and registry.rollback("vision").version == 1
    assert _files(registry, "text") == ({"champion": 1}, [1])  # a sound model is left alone


def test_repair_without_a_usable_history_takes_the_newest_complete_version(registry, capsys):
    home = registry.root / "vision"
    (home / "aliases.json").write_text("")
    (home / "champion_history.json").write_text("[1, 2")
    (home / "versions" / "3" / "metadata.json").unlink()  # 3 is half there: not a champion
    before = _versions(registry)
    with pytest.raises(SystemExit):  # version 3 stays incomplete: a problem remains
        main(["--registry", str(registry.root), "--repair"])
    out = capsys.readouterr().out
    assert "champion set to version 2, the newest complete version" in out
    assert _files(registry, "vision") == ({"champion": 2}, [2])
    assert _versions(registry) == before  # nothing deleted
    assert [p.path.name for p in check_registry(registry)] == ["3"]


def test_a_model_registered_without_a_champion_is_no_problem(tmp_path, exported):
    registry = LocalModelRegistry(tmp_path / "registry")
    registry.register("vision", exported, champion=False)
    assert check_registry(registry) == []
    main(["--registry", str(registry.root), "--repair"])
    assert not (registry.root / "vision" / "aliases.json").exists()


def test_a_directory_that_is_no_model_name_is_named(registry):
    (registry.root / "vis ion").mkdir()
    [problem] = check_registry(registry)
    assert (
        problem.model == "vis ion"
        and "is not allowed: it must be 1 to 128 ASCII letters" in problem.problem
    )


def _check(root) -> subprocess.CompletedProcess:
    return subprocess.run(
        [sys.executable, "-m", "serving.registry.registry_check", "--registry", str(root)],
        cwd=REPO, capture_output=True, text=True, timeout=60,
    )  # fmt: skip


def test_the_command_exits_1_with_one_line_and_no_traceback(registry, tmp_path):
    (registry.root / "text" / "aliases.json").write_text("[1]")
    corrupt, nowhere = _check(registry.root), _check(tmp_path / "nowhere")
    for done in (corrupt, nowhere):
        assert done.returncode == 1 and "Traceback" not in done.stderr
        assert len(done.stderr.strip().splitlines()) == 1, done.stderr
    assert "text/aliases.json" in corrupt.stdout and "holds [1]" in corrupt.stdout
    assert f"{tmp_path / 'nowhere'} is not a directory: pass the registry folder" in nowhere.stderr


@pytest.mark.parametrize(
    ("aliases", "left"),
    [
        ({"canary": 9}, {}),
        ({"canary": 9, "shadow": 1}, {"shadow": 1}),
        ({"canary": 9, "shadow": 10}, {}),
    ],
)
def test_repair_drops_aliases_to_missing_versions_of_a_model_without_champion(
    tmp_path, exported, capsys, aliases, left
):
    """What the check says --repair does, it does: no champion is made up."""
    registry = LocalModelRegistry(tmp_path / "registry")
    registry.register("vision", exported, champion=False)
    (registry.root / "vision" / "aliases.json").write_text(json.dumps(aliases))
    [problem, *_] = check_registry(registry)
    assert problem.fix == "--repair drops the alias" and "is version 9" in problem.problem
    main(["--registry", str(registry.root), "--repair"])  # no SystemExit: nothing remains
    assert f"vision: aliases.json rewritten: {left}" in capsys.readouterr().out
    assert registry.aliases("vision") == left and registry.champion("vision") is None
    assert not (registry.root / "vision" / "champion_history.json").exists()


def test_an_alias_of_a_model_with_no_complete_version_says_register_again(registry):
    shutil.rmtree(registry.root / "text" / "versions" / "1")
    (registry.root / "text" / "aliases.json").write_text('{"champion": 1, "canary": 1}')
    fixes = {p.fix for p in check_registry(registry) if p.path.name == "aliases.json"}
    assert fixes == {"register the model again (--repair needs a complete version)"}


def _denied(monkeypatch, denied) -> None:
    """Path.iterdir raises PermissionError for `denied`, as an unreadable folder would."""
    iterdir = Path.iterdir

    def guarded(self):
        if self == denied:
            raise PermissionError(13, "Permission denied", str(self))
        return iterdir(self)

    monkeypatch.setattr(Path, "iterdir", guarded)


@pytest.mark.parametrize("where", ["vision/versions", "text/versions", ""])
def test_an_unreadable_folder_is_a_problem_row_naming_it(registry, capsys, monkeypatch, where):
    """As root (as CI runs) no folder can be made unreadable, so the OSError that
    iterdir() raises on one comes from a stand-in."""
    denied = registry.root / where if where else registry.root
    _denied(monkeypatch, denied)
    with pytest.raises(SystemExit) as stopped:
        main(["--registry", str(registry.root)])
    out = capsys.readouterr().out
    assert "problem(s) in" in str(stopped.value)
    [row] = [line for line in out.splitlines() if "cannot be read (Permission denied)" in line]
    shown = str(denied.relative_to(registry.root)) if where else str(registry.root)
    assert f"  {shown}  " in row and "make it readable" in row, out
    assert "Traceback" not in out


def test_a_model_that_cannot_be_locked_is_not_repaired_and_named(registry, capsys):
    """A folder where the lock file belongs: the lock cannot be opened (as a read-only
    model folder would refuse it)."""
    shutil.rmtree(registry.root / "vision" / "versions" / "3")
    lock = registry.root / "vision" / ".lock"
    lock.unlink(missing_ok=True)
    lock.mkdir()
    with pytest.raises(SystemExit) as stopped:
        main(["--registry", str(registry.root), "--repair"])
    out = capsys.readouterr().out
    assert f"vision: not repaired: {lock} cannot be written (Is a directory)" in out
    assert "problem(s) in" in str(stopped.value) and "Traceback" not in out
    assert _files(registry, "vision") == ({"champion": 3}, [1, 2, 3])  # left as it was
