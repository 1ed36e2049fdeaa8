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
"""

from __future__ import annotations

import logging
import random
import threading
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path

from serving.contracts.errors import InputError
from serving.registry.local_registry import CHAMPION, LocalModelRegistry
from serving.server.batcher import DynamicBatcher
from serving.server.loaded_model import LoadedModel

log = logging.getLogger(__name__)

DEFAULT_TRAFFIC = ((CHAMPION, 100),)


@dataclass(frozen=True)
class Batching:
    max_batch_size: int = 32
    max_wait_s: float = 0.0  # 0: batch what queued while the model was busy, wait for nothing


@dataclass
class ServedVersion:
    model: LoadedModel
    batcher: DynamicBatcher


@dataclass(frozen=True)
class Split:
    """One model's versions as served: the traffic split and the registry's aliases then."""

    versions: dict[int, ServedVersion]
    traffic: tuple[tuple[int, int], ...]  # (version, percent)
    aliases: dict[str, int] = field(default_factory=dict)

    def pick(self, rng: random.Random) -> ServedVersion:
        versions, weights = zip(*self.traffic, strict=True)
        return self.versions[rng.choices(versions, weights)[0]]


def parse_traffic(text: str) -> tuple[tuple[str, int], ...]:
    """`champion:90,3:10` -> (("champion", 90), ("3", 10)); the percentages must sum to 100."""
    pairs = []
    for part in text.split(","):
        selector, _, percent = part.strip().partition(":")
        if not selector or not percent.strip().isdigit():
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
        self._lock = threading.Lock()  # one refresh at a time
        self.split: Split | None = None  # None while the first versions load
        self.error = ""  # why the last load failed
        self._closed = False
        self.resolve()  # bad selectors fail at start-up, not in the background

    def resolve(self) -> tuple[tuple[tuple[int, int], ...], dict[str, int]]:
        """(the traffic as (version, percent), the aliases), read from the registry now."""
        aliases, known = self.registry.aliases(self.name), self.registry.versions(self.name)
        if not known:
            raise InputError(
                f"The registry {self.registry.root} has no model {self.name!r}: run `make run` "
                "(or a pipeline) to train and register one, or name another with --model."
            )
        traffic = []
        for selector, percent in self.selectors:
            version = int(selector) if selector.isdigit() else aliases.get(selector)
            if version not in known:
                raise InputError(
                    f"Model {self.name!r} has no version {selector!r} (versions {known}, "
                    f"aliases {aliases or 'none'}): fix --traffic."
                )
            traffic.append((version, percent))
        merged: dict[int, int] = {}
        for version, percent in traffic:
            merged[version] = merged.get(version, 0) + percent
        return tuple(sorted(merged.items())), aliases

    def refresh(self) -> bool:
        """Load what the registry's aliases now point at and switch to it; True if it changed."""
        with self._lock:
            if self._closed:
                return False
            try:
                traffic, aliases = self.resolve()
            except InputError as exc:
                log.warning("Keeping the versions served for %s: %s", self.name, exc)
                return False
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
                self.error = f"version {version} of {self.name} did not load: {exc}"
                log.error("%s", self.error)
                for fresh in set(versions) - set(old.versions if old else {}):
                    versions[fresh].batcher.close()
                return False
            self.split = Split(versions, traffic, aliases)
            self.error = ""
            log.info(
                "Serving %s: %s", self.name, ", ".join(f"version {v} {p}%" for v, p in traffic)
            )
            if old is not None:
                for version in set(old.versions) - set(versions):
                    old.versions[version].batcher.close()  # drains its queue first
                    log.info("Retired %s version %d", self.name, version)
            return True

    def close(self) -> None:
        """Stop the batchers; a refresh still loading waits for the lock, then does nothing."""
        with self._lock:
            self._closed = True
            if self.split is not None:
                for served in self.split.versions.values():
                    served.batcher.close()

    def _serve(self, version: int) -> ServedVersion:
        path = self.registry.root / self.name / "versions" / str(version)
        model = self._load(self.name, version, path)
        model.warm_up()
        batcher = DynamicBatcher(
            model.predict, self.batching.max_batch_size, self.batching.max_wait_s, model.label
        )
        return ServedVersion(model, batcher)
