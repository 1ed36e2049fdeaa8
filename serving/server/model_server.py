"""The server's state: the deployments, readiness, the registry watcher, and the settings.

Vertex AI's custom-container contract is read here: the port from
AIP_HTTP_PORT, the routes from AIP_PREDICT_ROUTE and AIP_HEALTH_ROUTE, and
the deployed model's id from AIP_DEPLOYED_MODEL_ID.
"""

from __future__ import annotations

import logging
import os
import random
import threading
from collections.abc import Mapping
from dataclasses import dataclass

from serving.contracts.errors import InputError
from serving.server.admission import Admission
from serving.server.deployments import Deployment, ServedVersion
from serving.server.request_format import RequestError
from serving.server.request_limits import RequestLimits
from serving.server.settings import MAX_BODY_BYTES, POLL_SECONDS
from serving.server.sockets import port_number

log = logging.getLogger(__name__)

DEFAULT_LIMITS = RequestLimits()


@dataclass(frozen=True)
class VertexContract:
    """The routes and port Vertex AI tells a custom serving container to use."""

    port: int = 8080
    predict_route: str = "/predict"
    health_route: str = "/health"
    deployed_model_id: str = ""

    @classmethod
    def from_environ(cls, environ: Mapping[str, str] | None = None) -> VertexContract:
        env = os.environ if environ is None else environ
        text = env.get("AIP_HTTP_PORT", "").strip() or "8080"
        port = port_number(text)
        if port is None:
            raise InputError(
                f"AIP_HTTP_PORT={text!r} is not a port number (1-65535): unset it, or pass --port."
            )
        return cls(
            port=port,
            predict_route=env.get("AIP_PREDICT_ROUTE", "").strip() or cls.predict_route,
            health_route=env.get("AIP_HEALTH_ROUTE", "").strip() or cls.health_route,
            deployed_model_id=env.get("AIP_DEPLOYED_MODEL_ID", "").strip(),
        )


class ModelServer:
    """Deployments by model name; the Vertex route serves `vertex_model`."""

    def __init__(
        self,
        deployments: dict[str, Deployment],
        contract: VertexContract = VertexContract(),
        vertex_model: str = "",
        max_body_bytes: int = 10 * 2**20,
        seed: int | None = None,
        limits: RequestLimits = DEFAULT_LIMITS,
        admission: Admission | None = None,
    ) -> None:
        self.deployments, self.contract = deployments, contract
        self.vertex_model = vertex_model or (
            next(iter(deployments)) if len(deployments) == 1 else ""
        )
        MAX_BODY_BYTES.check(max_body_bytes)
        self.max_body_bytes = max_body_bytes
        self.limits = limits
        self.admission = admission or Admission()
        self._rng = random.Random(seed)
        self._stop = threading.Event()
        self._loaded = threading.Event()
        self._threads: list[threading.Thread] = []
        self.watcher_errors = 0  # refreshes that raised (refresh() catches what it expects)

    @property
    def ready(self) -> bool:
        """Nothing still loading, and something serving: the Vertex route's model if it has one.

        A model that cannot be served is named in `problems()` rather than holding the
        others back, and a model serving its last good versions while the registry is
        broken stays ready: an unhealthy replica would be restarted by Vertex AI.
        """
        states = {name: d.state for name, d in self.deployments.items()}
        if "loading" in states.values():
            return False
        if self.vertex_model:
            return states[self.vertex_model] == "serving"
        return "serving" in states.values()

    @property
    def draining(self) -> bool:
        """True once a drain began (SIGTERM): health and new requests answer 503."""
        return self.admission.draining

    def problems(self) -> dict[str, str]:
        """Model name -> why the registry watcher cannot use its registry now (only those)."""
        return {name: d.error for name, d in self.deployments.items() if d.error}

    def start(self, poll_s: float = 0) -> None:
        """Load every deployment in the background; then, with `poll_s`, watch the registry."""
        POLL_SECONDS.check(poll_s)

        def load_then_watch() -> None:
            self._refresh_all()
            self._loaded.set()
            failed = [name for name, d in self.deployments.items() if d.split is None]
            log.info(
                "Ready: %s%s",
                ", ".join(name for name in self.deployments if name not in failed) or "nothing",
                f" (not served: {', '.join(failed)})" if failed else "",
            )
            while poll_s and not self._stop.wait(poll_s):
                self._refresh_all()

        thread = threading.Thread(target=load_then_watch, name="model loader", daemon=True)
        thread.start()
        self._threads.append(thread)

    def wait_loaded(self) -> None:
        """Block until start()'s first load has settled, served or named in problems()."""
        while not self._loaded.wait(1.0):  # a timed wait, so that Ctrl-C interrupts it
            pass

    def _refresh_all(self) -> None:
        """Refresh every deployment; whatever one raises is reported, never ends the watcher."""
        for deployment in self.deployments.values():
            try:
                deployment.refresh()
            except Exception as exc:  # a bug: refresh() records the faults it expects itself
                self.watcher_errors += 1
                deployment.watch.failed(
                    f"the registry watcher's refresh failed: {type(exc).__name__}: {exc}",
                    "the watcher goes on polling",
                )

    def stop(self) -> None:
        self._stop.set()
        for thread in self._threads:
            thread.join(timeout=120)
        for deployment in self.deployments.values():
            deployment.close()

    def deployment(self, name: str) -> Deployment:
        if name not in self.deployments:
            raise RequestError(
                404, f"Model {name!r} is not served here; served: {', '.join(self.deployments)}."
            )
        return self.deployments[name]

    def version_for(self, name: str, version: str = "", label: str = "") -> ServedVersion:
        """The version a request goes to: named by number or label, else by the traffic split."""
        deployment = self.deployment(name)
        split = deployment.split
        if split is None:
            if deployment.error:
                raise RequestError(503, f"Model {name!r} is not served: {deployment.error}")
            raise RequestError(503, f"Model {name!r} is still loading; retry shortly.")
        if label:
            if label not in split.aliases:
                raise RequestError(
                    404,
                    f"Model {name!r} has no label {label!r}; "
                    f"labels: {sorted(split.aliases) or 'none'}.",
                )
            version = str(split.aliases[label])
        if version:
            loaded = {str(v): served for v, served in split.versions.items()}
            if version not in loaded:  # compared as text: int() of any text may fail
                raise RequestError(
                    404,
                    f"Version {version} of {name!r} is not loaded; "
                    f"loaded: {sorted(split.versions)}.",
                )
            return loaded[version]
        return split.pick(self._rng)

    def deployed_model_id(self, served: ServedVersion) -> str:
        return (
            self.contract.deployed_model_id or f"{served.model.model_name}-{served.model.version}"
        )
