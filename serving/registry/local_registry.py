"""Local model registry: a directory of numbered versions and a `champion` alias.

    <root>/<model>/versions/<n>/           the SavedModel, metadata.json, registration.json
    <root>/<model>/aliases.json            {"champion": n}
    <root>/<model>/champion_history.json   every champion in turn, for `rollback`

The local twin of Vertex AI Model Registry (versions under one parent model,
aliases). A version appears only complete: it is copied under a temporary name
and renamed into place, and the alias file is replaced atomically. Every
version is kept; `rollback` makes the champion before the current one
champion again, and a server watching the registry swaps back to it.
"""

from __future__ import annotations

import contextlib
import datetime as dt
import fcntl
import json
import os
import shutil
import uuid
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

from serving.contracts.artifact_dirs import write_json
from serving.contracts.errors import InputError
from serving.contracts.limits import MODEL_NAME
from serving.contracts.model_metadata import METADATA

CHAMPION = "champion"
ALIASES = "aliases.json"
HISTORY = "champion_history.json"
SAVED_MODEL = "saved_model.pb"


@dataclass(frozen=True)
class RegisteredVersion:
    model_name: str
    version: int
    path: Path

    @property
    def resource_name(self) -> str:
        return f"local/models/{self.model_name}/versions/{self.version}"


class LocalModelRegistry:
    def __init__(self, root: str | Path):
        if not str(root):
            raise InputError(
                "registry_uri is empty: the local target registers models in a local "
                "directory, e.g. --set registry_uri=build/registry."
            )
        if str(root).startswith(("gs://", "/gcs/")):
            raise InputError(
                f"registry_uri {root!r} is in Cloud Storage: the local registry needs a local "
                "disk (it renames directories and locks files). On Vertex AI, models go to "
                "Vertex Model Registry instead."
            )
        self.root = Path(root)

    def register(
        self,
        model_name: str,
        model_dir: str | Path,
        labels: dict | None = None,
        champion: bool = True,
    ) -> RegisteredVersion:
        """Copy a complete exported model in as the next version; optionally make it champion.

        The registry files it will update are read (and checked) before anything is
        copied, so a refusal leaves the registry as it was.
        """
        check_model_name(model_name)
        problem = export_problem(Path(model_dir))
        if problem:
            raise InputError(
                f"{model_dir} cannot be registered: it {problem}; pass the directory a "
                "training step exported the model to."
            )
        home = self.root / model_name
        versions = home / "versions"
        versions.mkdir(parents=True, exist_ok=True)
        with self.lock(model_name):
            if champion:
                self.aliases(model_name)
                self.champion_history(model_name)
            version = max(self.versions(model_name), default=0) + 1
            incoming = versions / f".incoming-{uuid.uuid4().hex}"
            try:
                shutil.copytree(model_dir, incoming)
                write_json(
                    incoming / "registration.json",
                    {
                        "model_name": model_name,
                        "version": version,
                        "source": str(model_dir),
                        "labels": labels or {},
                        "registered_at": dt.datetime.now(dt.UTC).isoformat(timespec="seconds"),
                    },
                )
                os.rename(incoming, versions / str(version))
            finally:
                shutil.rmtree(incoming, ignore_errors=True)
            if champion:
                self._promote(model_name, version)
        return RegisteredVersion(model_name, version, versions / str(version))

    def rollback(self, model_name: str) -> RegisteredVersion:
        """Make the previous champion the champion again; the current one stays a version."""
        check_model_name(model_name)
        if not (self.root / model_name).is_dir():
            raise InputError(
                f"The registry {self.root} has no model {model_name!r}: nothing to roll back."
            )
        with self.lock(model_name):
            history = self.champion_history(model_name)
            if len(history) < 2:
                current = self.champion(model_name)
                raise InputError(
                    f"{model_name!r} in {self.root} has no earlier champion to roll back to "
                    f"(champion: {'version ' + str(current.version) if current else 'none'})."
                )
            previous = history[-2]
            problem = self.version_problem(model_name, previous)
            if problem:
                raise InputError(
                    f"{model_name!r} in {self.root} cannot roll back to its previous champion, "
                    f"version {previous}: {problem}. Run `make registry-check REGISTRY="
                    f"{self.root}` (REPAIR=1 drops it from {HISTORY}), then roll back again."
                )
            self._set_alias(model_name, CHAMPION, previous)
            write_json(self.root / model_name / HISTORY, history[:-1])
        return RegisteredVersion(model_name, previous, self.version_dir(model_name, previous))

    def champion_history(self, model_name: str) -> list[int]:
        """The versions that were champion, oldest first; the last is the champion now."""
        check_model_name(model_name)
        path = self.root / model_name / HISTORY
        if path.exists():
            history = _read_json(path, "a list of version numbers, oldest champion first")
            if not isinstance(history, list) or not all(map(_is_version, history)):
                raise _corrupt(path, f"holds {_shown(history)}", "a list of version numbers")
            return history
        current = self.aliases(model_name).get(CHAMPION)
        return [] if current is None else [current]

    def versions(self, model_name: str) -> list[int]:
        """The version directories' numbers; `.incoming-*` and other names are no versions."""
        check_model_name(model_name)
        versions = self.root / model_name / "versions"
        if not versions.is_dir():
            return []
        return sorted(int(p.name) for p in versions.iterdir() if version_number(p.name))

    def version_dir(self, model_name: str, version: int) -> Path:
        check_model_name(model_name)
        return self.root / model_name / "versions" / str(version)

    def version_problem(self, model_name: str, version: int) -> str:
        """Why `version` cannot be served ("" when it is complete): missing, or half there."""
        path = self.version_dir(model_name, version)
        problem = export_problem(path)
        return f"{path} {problem}" if problem else ""

    def aliases(self, model_name: str) -> dict[str, int]:
        """Alias -> version number, as aliases.json holds them (checked: a number is a version)."""
        check_model_name(model_name)
        path = self.root / model_name / ALIASES
        if not path.exists():
            return {}
        aliases = _read_json(path, 'an object of alias -> version number, e.g. {"champion": 3}')
        if not isinstance(aliases, dict) or not all(map(_is_version, aliases.values())):
            raise _corrupt(path, f"holds {_shown(aliases)}", 'e.g. {"champion": 3}')
        return aliases

    def champion(self, model_name: str) -> RegisteredVersion | None:
        version = self.aliases(model_name).get(CHAMPION)
        if version is None:
            return None
        return RegisteredVersion(model_name, version, self.version_dir(model_name, version))

    def _promote(self, model_name: str, version: int) -> None:
        history = self.champion_history(model_name)
        self._set_alias(model_name, CHAMPION, version)
        write_json(self.root / model_name / HISTORY, [*history, version])

    def _set_alias(self, model_name: str, alias: str, version: int) -> None:
        aliases = self.aliases(model_name)
        aliases[alias] = version
        write_json(self.root / model_name / ALIASES, aliases)

    @contextlib.contextmanager
    def lock(self, model_name: str) -> Iterator[None]:
        """Hold the model's lock: one writer of its versions and registry files at a time."""
        with open(self.root / model_name / ".lock", "w") as handle:
            fcntl.flock(handle, fcntl.LOCK_EX)
            try:
                yield
            finally:
                fcntl.flock(handle, fcntl.LOCK_UN)


def check_model_name(model_name: str) -> None:
    """InputError unless `model_name` names a registry directory (the pipelines' own limit)."""
    MODEL_NAME.check("model_name", model_name)


def export_problem(path: Path) -> str:
    """What makes `path` no complete exported model, said after its path ("" when complete).

    What register refuses to copy in and what the server refuses to serve: a folder
    with saved_model.pb and metadata.json, the latter a JSON object.
    """
    if not path.is_dir():
        return f"is {'not a directory' if path.exists() else 'missing'}"
    for marker in (METADATA, SAVED_MODEL):
        if not (path / marker).is_file():
            return f"is incomplete (no {marker})"
    try:
        metadata = json.loads((path / METADATA).read_text())
    except (OSError, UnicodeDecodeError, json.JSONDecodeError) as exc:
        return f"has a {METADATA} that cannot be read ({exc})"
    return "" if isinstance(metadata, dict) else f"has a {METADATA} that is not a JSON object"


def version_number(name: str) -> bool:
    """Whether a directory name is a version as the registry writes them: 1, 2, ... (not 01)."""
    return name.isascii() and name.isdigit() and name == str(int(name)) and int(name) > 0


def _is_version(value: object) -> bool:
    """A version number as registry files hold it: a positive int (not a bool, not text)."""
    return type(value) is int and value > 0


def _read_json(path: Path, expected: str) -> object:
    try:
        return json.loads(path.read_text())
    except (UnicodeDecodeError, json.JSONDecodeError) as exc:
        raise _corrupt(path, f"is not valid JSON ({exc})", expected) from None
    except OSError as exc:  # a directory, or no permission to read it
        raise InputError(
            f"The registry file {path} cannot be read ({exc.strerror}): it should be a "
            f"readable file holding {expected}; fix it, or restore it from a backup."
        ) from None


def _corrupt(path: Path, problem: str, expected: str) -> InputError:
    return InputError(
        f"The registry file {path} is corrupt: it {problem}; it should hold {expected}. "
        f"Repair: `make registry-check REGISTRY={path.parent.parent} REPAIR=1` rewrites it "
        f"from the complete versions under {path.parent / 'versions'} and never deletes one; "
        "or restore it from a backup."
    )


def _shown(value: object) -> str:
    text = json.dumps(value)
    return text if len(text) <= 80 else text[:77] + "..."
