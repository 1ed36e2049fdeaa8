"""What the server serves: for each model, loaded versions and the traffic split between them.

Like a Vertex AI endpoint, a model's traffic is split across versions by
percentage. Versions are named by number or by a registry alias
(`champion:90,challenger:10`; the default is `champion:100`). A version is
loaded and warmed up before it takes traffic.

Hot swap: `refresh()` re-reads the registry's aliases; when they now name
other versions, the new ones are loaded and warmed up while the old ones keep
serving, then the split is switched in one assignment. Requests already
running finish on the version they started on, and the old versions'
batchers drain their queues before they stop.

A refresh that cannot use the registry (a corrupt file, a champion whose
directory is gone, a version that will not load) keeps the last good split
serving and records the problem in `watch` (registry_watch.py); the next
refresh tries again, so a repaired registry is followed. A version that did not
load is loaded again only once its files change, not at every refresh.
"""

from __future__ import annotations

import logging
import os
import random
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path

import tensorflow as tf

from serving.contracts.errors import InputError
from serving.registry.local_registry import (
    ALIASES,
    CHAMPION,
    LocalModelRegistry,
    check_model_name,
)
from serving.server import metrics
from serving.server.batcher import DynamicBatcher
from serving.server.loaded_model import LoadedModel
from serving.server.registry_watch import RegistryWatch
from serving.server.request_format import RequestError
from serving.server.settings import (
    BATCH_TIMEOUT_MS,
    MAX_BATCH_SIZE,
    MAX_ENQUEUED_BATCHES,
    MAX_QUEUE_MS,
)

log = logging.getLogger(__name__)

DEFAULT_TRAFFIC = ((CHAMPION, 100),)


@dataclass(frozen=True)
class Batching:
    max_batch_size: int = 32
    max_wait_s: float = 0.0  # 0: batch what queued while the model was busy, wait for nothing
    max_enqueued_batches: int = 8  # the queue's bound: fuller, and requests get 429
    max_queue_s: float = 0.1  # its bound in time (batcher.py): a longer wait, and 429

    def __post_init__(self) -> None:
        MAX_BATCH_SIZE.check(self.max_batch_size)
        BATCH_TIMEOUT_MS.check(self.max_wait_s * 1000)
        MAX_ENQUEUED_BATCHES.check(self.max_enqueued_batches)
        MAX_QUEUE_MS.check(self.max_queue_s * 1000)


@dataclass
class ServedVersion:
    model: LoadedModel
    batcher: DynamicBatcher

    def refusal(self, exc: tf.errors.InvalidArgumentError) -> RequestError:
        """The model's refusal of a request's instances, as the 400 both APIs answer."""
        reason = exc.message.strip().splitlines()[0][:300]
        return RequestError(
            400,
            f"{self.model.label} could not use the instances "
            f"({self.model.input.describe()}): {reason}",
        )


@dataclass(frozen=True)
class Split:
    """One model's versions as served: the traffic split and the registry's aliases then."""

    versions: dict[int, ServedVersion]
    traffic: tuple[tuple[int, int], ...]  # (version, percent)
    aliases: dict[str, int] = field(default_factory=dict)

    def pick(self, rng: random.Random) -> ServedVersion:
        versions, weights = zip(*self.traffic, strict=True)
        return self.versions[rng.choices(versions, weights)[0]]


class TrafficError(InputError):
    """The traffic names a version or alias the model does not have: the command is wrong."""


class VersionLoadError(RuntimeError):
    """A version the registry names could not be loaded and warmed up."""


def parse_traffic(text: str) -> tuple[tuple[str, int], ...]:
    """`champion:90,3:10` -> (("champion", 90), ("3", 10)); the percentages must sum to 100."""
    pairs = []
    for part in text.split(","):
        selector, _, percent = part.strip().partition(":")
        percent = percent.strip()
        if not selector or not (percent.isascii() and percent.isdigit() and len(percent) <= 3):
            raise InputError(
                f"Traffic {text!r}: each part is VERSION_OR_ALIAS:PERCENT, e.g. champion:90,3:10."
            )
        pairs.append((selector.strip(), int(percent)))
    if sum(p for _, p in pairs) != 100:
        raise InputError(
            f"Traffic {text!r}: the percentages add up to {sum(p for _, p in pairs)}, not 100."
        )
    return tuple(pairs)


class Deployment:
    """One model of the registry as served: its current Split, swapped whole on refresh."""

    def __init__(
        self,
        registry: LocalModelRegistry,
        name: str,
        traffic: tuple[tuple[str, int], ...] = DEFAULT_TRAFFIC,
        batching: Batching = Batching(),
        load: Callable[[str, int, Path], LoadedModel] = LoadedModel,
    ) -> None:
        self.registry, self.name, self.selectors, self.batching = registry, name, traffic, batching
        self._load = load
        self._unloadable: dict[int, tuple[tuple, str]] = {}  # version -> (its files, why)
        self._lock = threading.Lock()  # one refresh at a time
        self.split: Split | None = None  # None until the first versions are loaded
        self.watch = RegistryWatch(name)
        self._closed = False
        check_model_name(name)
        if not (registry.root / name).is_dir():
            raise InputError(
                f"The registry {registry.root} has no model {name!r}: run `make run` "
                "(or a pipeline) to train and register one, or name another with --model."
            )
        try:  # bad selectors fail at start-up; a broken registry is reported, and watched
            self.resolve()
        except TrafficError:
            raise
        except Exception as exc:
            self.watch.failed(_describe(exc), self._keeping())

    @property
    def error(self) -> str:
        """Why the registry could not be used at the last refresh ("" when it could)."""
        return self.watch.problem

    @property
    def state(self) -> str:
        """serving (perhaps the last good split, see `error`), loading, or failed (nothing)."""
        if self.split is not None:
            return "serving"
        return "failed" if self.error else "loading"

    def resolve(self) -> tuple[tuple[tuple[int, int], ...], dict[str, int]]:
        """(the traffic as (version, percent), the aliases), read from the registry now."""
        aliases, known = self.registry.aliases(self.name), self.registry.versions(self.name)
        traffic = []
        for selector, percent in self.selectors:
            number = selector.isascii() and selector.isdigit() and len(selector) <= 18
            version = int(selector) if number else aliases.get(selector)
            if version is None or (number and version not in known):
                raise TrafficError(
                    f"Model {self.name!r} has no version {selector!r} (versions {known}, "
                    f"aliases {aliases or 'none'}): fix --traffic, or point the alias at a "
                    f"version in {self.registry.root / self.name / ALIASES}."
                )
            problem = self.registry.version_problem(self.name, version)
            if problem:
                which = f"version {version}" if number else f"its {selector}, version {version},"
                raise InputError(
                    f"{which} cannot be served: {problem}. Repair: `make registry-check "
                    f"REGISTRY={self.registry.root} REPAIR=1` (the last complete champion in "
                    "champion_history.json becomes champion), `make rollback`, or register "
                    "the model again."
                )
            traffic.append((version, percent))
        merged: dict[int, int] = {}
        for version, percent in traffic:
            merged[version] = merged.get(version, 0) + percent
        return tuple(sorted(merged.items())), aliases

    def refresh(self) -> bool:
        """Load what the registry's aliases now point at and switch to it; True if it changed.

        Never raises: whatever goes wrong leaves the current split serving, and is
        recorded in `watch` for the log, /health's problems and /v1/models/<name>.
        """
        with self._lock:
            if self._closed:
                return False
            try:
                changed = self._swap()
            except Exception as exc:
                self.watch.failed(_describe(exc), self._keeping())
                return False
            self.watch.succeeded()
            return changed

    def _swap(self) -> bool:
        traffic, aliases = self.resolve()
        old = self.split
        if old is not None and old.traffic == traffic:
            if old.aliases != aliases:  # the same versions under other labels
                self.split = Split(old.versions, traffic, aliases)
            return False
        versions = {}
        try:
            for version, _ in traffic:
                if old is not None and version in old.versions:
                    versions[version] = old.versions[version]
                else:
                    versions[version] = self._serve(version)
        except Exception as exc:  # a version that will not load: keep serving the old split
            for fresh in set(versions) - set(old.versions if old else {}):
                versions[fresh].batcher.close()
            if isinstance(exc, VersionLoadError):
                raise
            raise VersionLoadError(
                f"version {version} of {self.name} did not load: {_describe(exc)}"
            ) from exc
        self.split = Split(versions, traffic, aliases)
        log.info("Serving %s: %s", self.name, ", ".join(f"version {v} {p}%" for v, p in traffic))
        if old is not None:
            for version in set(old.versions) - set(versions):
                old.versions[version].batcher.close()  # drains its queue first
                metrics.model_retired(self.name, str(version))
                log.info("Retired %s version %d", self.name, version)
        return True

    def _keeping(self) -> str:
        """What serves while the registry cannot be used, as the log says it."""
        if self.split is None:
            return f"nothing of {self.name} is served until this is fixed"
        served = ", ".join(f"version {v} {p}%" for v, p in self.split.traffic)
        return f"still serving {self.name} {served}"

    def close(self) -> None:
        """Stop the batchers; a refresh still loading waits for the lock, then does nothing."""
        with self._lock:
            self._closed = True
            if self.split is not None:
                for served in self.split.versions.values():
                    served.batcher.close()

    def _serve(self, version: int) -> ServedVersion:
        """Load and warm up `version`; one that failed is loaded again once its files change."""
        path = self.registry.version_dir(self.name, version)
        files = files_signature(path)
        failed = self._unloadable.get(version)
        if failed and failed[0] == files:
            raise VersionLoadError(failed[1])
        started = time.perf_counter()
        try:
            model = self._load(self.name, version, path)
            model.warm_up()
        except Exception as exc:
            why = (
                f"version {version} of {self.name} did not load: {_describe(exc)} "
                "(loaded again when its files change)"
            )
            self._unloadable[version] = (files, why)
            raise VersionLoadError(why) from exc
        self._unloadable.pop(version, None)
        metrics.model_loaded(self.name, str(version), time.perf_counter() - started)
        batcher = DynamicBatcher(
            model.predict,
            self.batching.max_batch_size,
            self.batching.max_wait_s,
            model.label,
            self.batching.max_enqueued_batches,
            (self.name, str(version)),
            self.batching.max_queue_s,
        )
        return ServedVersion(model, batcher)


def files_signature(path: Path) -> tuple:
    """(name, size, mtime, inode) of each file under `path`: it changes when any file does."""
    files = []
    for folder, _, names in os.walk(path):
        for name in names:
            stat = os.stat(os.path.join(folder, name))
            files.append((os.path.join(folder, name), stat.st_size, stat.st_mtime_ns, stat.st_ino))
    return tuple(sorted(files))


def _describe(exc: Exception) -> str:
    """An exception as one problem line: InputError's own message, else its type and message."""
    if isinstance(exc, (InputError, VersionLoadError)):
        return str(exc)
    return f"{type(exc).__name__}: {exc}"
