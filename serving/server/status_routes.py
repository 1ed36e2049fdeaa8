"""The answers of the GET routes that report state: health, and TF Serving's version status."""

from __future__ import annotations

from serving.server.model_server import ModelServer
from serving.server.request_format import RequestError

AVAILABLE = {"error_code": "OK", "error_message": ""}


def health(server: ModelServer) -> dict:
    """200 while the models serve (even the last good versions of a broken registry).

    503 while loading, when nothing can be served, and once a drain began.
    """
    if server.draining:
        raise RequestError(503, "Draining: the server is shutting down.")
    states = {name: d.state for name, d in server.deployments.items()}
    problems = server.problems()
    if not server.ready:
        loading = [name for name, state in states.items() if state == "loading"]
        if loading:
            raise RequestError(503, f"Not ready: loading {', '.join(loading)}.")
        failed = "; ".join(f"{n}: {p}" for n, p in problems.items() if states[n] == "failed")
        raise RequestError(503, f"Not ready: cannot serve {failed}")
    versions = {name: sorted(d.split.versions) for name, d in server.deployments.items() if d.split}
    status = "degraded" if problems else "ready"
    return {"status": status, "models": versions, "problems": problems}


def version_status(server: ModelServer, name: str, version: str, label: str) -> dict:
    """TF Serving's GET /v1/models/<name>: each version's state."""
    deployment = server.deployment(name)
    watch = {"registry_watch": deployment.watch.snapshot()} if deployment.error else {}
    if deployment.split is None:
        state = "END" if deployment.error else "LOADING"
        code = "UNAVAILABLE" if deployment.error else "OK"
        status = {"error_code": code, "error_message": deployment.error}
        versions = [{"version": version or "0", "state": state, "status": status}]
        return {"model_version_status": versions, **watch}
    if version or label:
        versions = [server.version_for(name, version, label).model.version]
    else:
        versions = sorted(deployment.split.versions)
    available = [
        {
            "version": str(v),
            "state": "AVAILABLE",
            "status": {"error_code": "OK", "error_message": ""},
        }
        for v in versions
    ]
    return {"model_version_status": available, **watch}
