"""Check a local model registry, and repair its champions from their history.

    python -m serving.registry.registry_check [--registry build/registry] [--repair]

For every model: its name, its version directories (complete: metadata.json and
saved_model.pb), aliases.json (each alias names a complete version) and
champion_history.json (valid, listing complete versions, ending with the
champion). The problems are printed as a table; the exit status is 1 while any
remain.

--repair rewrites the registry files only, atomically and under the model's lock,
and never deletes a version: aliases that name no complete version are dropped; a
model that had a champion (an alias, a history, or a file too corrupt to say) gets
the last complete version of champion_history.json as champion (else the newest
complete version, said so), and the history keeps its complete versions, ending
with the champion. A model with no complete version is left as it is. A folder or
file that cannot be read or written is a problem row of its own, naming its path.
"""

from __future__ import annotations

import argparse
import sys
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import TypeVar

from serving.contracts.artifact_dirs import write_json
from serving.contracts.errors import InputError
from serving.registry.local_registry import (
    ALIASES,
    CHAMPION,
    HISTORY,
    LocalModelRegistry,
    check_model_name,
    version_number,
)

PROG = "python -m serving.registry.registry_check"
T = TypeVar("T")
REPAIR = "--repair: the champion is set from champion_history.json, else the newest version"


@dataclass(frozen=True)
class Problem:
    model: str
    path: Path
    problem: str
    fix: str


def check_registry(registry: LocalModelRegistry) -> list[Problem]:
    """Every problem of every model directory of the registry."""
    try:
        models = sorted(p.name for p in registry.root.iterdir() if p.is_dir())
    except OSError as exc:
        return [_unreadable("", registry.root, exc)]
    return [problem for name in models for problem in check_model(registry, name)]


def check_model(registry: LocalModelRegistry, name: str) -> list[Problem]:
    """The model's problems; a folder or file that cannot be read is one, naming its path."""
    try:
        return _check_model(registry, name)
    except OSError as exc:
        return [_unreadable(name, registry.root / name, exc)]


def _check_model(registry: LocalModelRegistry, name: str) -> list[Problem]:
    home = registry.root / name
    try:
        check_model_name(name)
    except InputError as exc:
        return [Problem(name, home, str(exc), "rename it, or move it out of the registry")]
    problems = _version_problems(registry, name)
    complete = _complete(registry, name)
    aliases, error = _read(registry.aliases, name, {})
    if error:
        problems.append(Problem(name, home / ALIASES, error, REPAIR))
    for alias, version in sorted(aliases.items()):
        if version not in complete:
            missing = registry.version_problem(name, version)
            fix = REPAIR if alias == CHAMPION else "--repair drops the alias"
            if not complete:
                fix = "register the model again (--repair needs a complete version)"
            what = f"{alias} is version {version}: {missing}"
            problems.append(Problem(name, home / ALIASES, what, fix))
    if not (home / HISTORY).exists():
        return problems
    history, history_error = _read(registry.champion_history, name, [])
    if history_error:
        fix = "--repair rewrites it: the champion alone (the earlier champions are unknown)"
        return [*problems, Problem(name, home / HISTORY, history_error, fix)]
    for version in history:
        if version not in complete:
            missing = registry.version_problem(name, version)
            fix = "--repair drops it (make rollback would go back to it)"
            what = f"lists version {version}: {missing}"
            problems.append(Problem(name, home / HISTORY, what, fix))
    champion = aliases.get(CHAMPION)
    if history and not error and champion is None:
        problems.append(
            Problem(name, home / ALIASES, f"names no champion, but {HISTORY} lists some", REPAIR)
        )
    if history and champion in complete and history[-1] != champion:
        problems.append(
            Problem(
                name,
                home / HISTORY,
                f"ends with version {history[-1]}, but the champion is version {champion}",
                "--repair appends the champion, so that make rollback goes back from it",
            )
        )
    return problems


def repair_model(registry: LocalModelRegistry, name: str) -> list[str]:
    """Rewrite the model's aliases and history from its complete versions; what was done."""
    done: list[str] = []
    try:
        with registry.lock(name):
            _repair(registry, name, done)
    except OSError as exc:
        path = exc.filename or registry.root / name
        done.append(
            f"{name}: not repaired: {path} cannot be written ({exc.strerror or exc}): make it "
            "writable by you, then repair again"
        )
    return done


def _repair(registry: LocalModelRegistry, name: str, done: list[str]) -> None:
    """repair_model under the model's lock: appends to `done` what it did."""
    home = registry.root / name
    complete = _complete(registry, name)
    aliases, aliases_error = _read(registry.aliases, name, {})
    history, history_error = [], ""
    if (home / HISTORY).exists():
        history, history_error = _read(registry.champion_history, name, [])
    if not complete:
        done.append(f"{name}: not repaired: no complete version (register the model again)")
        return
    repaired = {alias: v for alias, v in aliases.items() if v in complete}
    had_champion = aliases_error or history_error or CHAMPION in aliases or history
    if had_champion:  # else registered without one: nothing says which it should be
        repaired[CHAMPION], kept = _champion(name, complete, aliases.get(CHAMPION), history, done)
    if aliases_error or repaired != aliases:
        write_json(home / ALIASES, repaired)
        done.append(f"{name}: {ALIASES} rewritten: {repaired}")
    if had_champion and (history_error or kept != history or not (home / HISTORY).exists()):
        write_json(home / HISTORY, kept)
        done.append(f"{name}: {HISTORY} rewritten: {kept}")


def _champion(
    name: str, complete: list[int], champion: int | None, history: list[int], done: list[str]
) -> tuple[int, list[int]]:
    """(the champion to keep or set, the history of complete versions ending with it)."""
    kept = [v for v in history if v in complete]
    if champion not in complete:
        if kept:
            champion = kept[-1]
            done.append(f"{name}: champion set to version {champion}, from {HISTORY}")
        else:
            champion = complete[-1]
            done.append(
                f"{name}: champion set to version {champion}, the newest complete version "
                f"({HISTORY} names no complete version)"
            )
    return champion, kept if kept[-1:] == [champion] else [*kept, champion]


def table(problems: list[Problem], root: Path) -> str:
    rows = [("MODEL", "PATH", "PROBLEM", "FIX")] + [
        (p.model, _relative(p.path, root), p.problem, p.fix) for p in problems
    ]
    widths = [max(len(row[i]) for row in rows) for i in range(2)]
    return "\n".join(
        f"{model:<{widths[0]}}  {path:<{widths[1]}}  {problem}  [{fix}]"
        for model, path, problem, fix in rows
    )


def main(argv: list[str] | None = None) -> None:
    p = argparse.ArgumentParser(prog=PROG, description=__doc__.split("\n")[0])
    p.add_argument("--registry", default="build/registry", help="local registry (%(default)s)")
    p.add_argument("--repair", action="store_true", help="rewrite the champions from history")
    args = p.parse_args(argv)
    try:
        registry = LocalModelRegistry(args.registry)
    except InputError as exc:
        raise SystemExit(f"{PROG}: error: {exc}") from None
    if not registry.root.is_dir():
        raise SystemExit(
            f"{PROG}: error: {registry.root} is not a directory: pass the registry folder, "
            "e.g. --registry build/registry."
        )
    if args.repair:
        for name in sorted({p.model for p in check_registry(registry) if p.fix.startswith("--")}):
            for line in repair_model(registry, name):
                print(line)
    problems = check_registry(registry)
    if not problems:
        models = sum(1 for p in registry.root.iterdir() if p.is_dir())
        print(f"{registry.root}: {models} model(s), no problem found.")
        return
    print(table(problems, registry.root))
    hint = "" if args.repair else " (--repair fixes those marked --repair)"
    raise SystemExit(f"{PROG}: {len(problems)} problem(s) in {registry.root}{hint}.")


def _version_problems(registry: LocalModelRegistry, name: str) -> list[Problem]:
    versions = registry.root / name / "versions"
    if not versions.is_dir():
        return [Problem(name, versions, "is missing", "register the model again")]
    problems = []
    for path in sorted(versions.iterdir()):
        if path.name.startswith(".incoming-"):
            problems.append(Problem(name, path, "was left by an interrupted register", "delete it"))
        elif not version_number(path.name):
            problems.append(
                Problem(name, path, "is no version (1, 2, ...)", "move it out of versions/")
            )
        elif problem := registry.version_problem(name, int(path.name)):
            fix = "restore it from a backup, or delete it and register the model again"
            problems.append(Problem(name, path, problem.removeprefix(f"{path} "), fix))
    return problems


def _unreadable(name: str, path: Path, exc: OSError) -> Problem:
    where = Path(exc.filename) if exc.filename else path
    problem = f"cannot be read ({exc.strerror or exc})"
    return Problem(name or "-", where, problem, "make it readable by you, then check again")


def _complete(registry: LocalModelRegistry, name: str) -> list[int]:
    return [v for v in registry.versions(name) if not registry.version_problem(name, v)]


def _read(read: Callable[[str], T], name: str, default: T) -> tuple[T, str]:
    """(what `read(name)` returns, ""), or (default, why) when its file is corrupt."""
    try:
        return read(name), ""
    except InputError as exc:
        return default, str(exc)


def _relative(path: Path, root: Path) -> str:
    if path == root:
        return str(path)
    try:
        return str(path.relative_to(root))
    except ValueError:
        return str(path)


if __name__ == "__main__":
    main(sys.argv[1:])
