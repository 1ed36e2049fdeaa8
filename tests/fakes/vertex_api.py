"""A scripted loopback stand-in for the Vertex AI REST API and an Artifact Registry KFP repository.

The CLI's error paths (tests/pipelines/vertex) run the real
google-cloud-aiplatform SDK and kfp's RegistryClient against this server on
127.0.0.1: it answers the calls `make submit` and `make deploy` make, in the
wire format of the v1 REST API, records every request, plays a scripted
sequence of run states and fails any call by method and path with a given
HTTP status. The happy paths of the same commands run on the project's
Vertex AI emulator instead (tests/pipelines/emulator), where runs execute.
"""

from __future__ import annotations

import contextlib
import email.parser
import email.policy
import hashlib
import itertools
import json
import re
from collections.abc import Iterator
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler
from urllib.parse import parse_qs, unquote, urlparse

import yaml

from tests.fakes.loopback import serving_on_loopback

_STATUS_NAMES = {
    400: "INVALID_ARGUMENT",
    403: "PERMISSION_DENIED",
    404: "NOT_FOUND",
    409: "ALREADY_EXISTS",
    429: "RESOURCE_EXHAUSTED",
}
_TYPES = "type.googleapis.com/google.cloud.aiplatform.v1"
_PARENT = re.compile(r"^/v1/(projects/[^/]+/locations/[^/]+)/(\w+)(?:/([^/:]+))?(?::(\w+))?$")


@dataclass
class Recorded:
    method: str
    path: str
    query: dict
    body: dict | bytes | None


@dataclass
class FakeVertexApi:
    """State of the stand-in; tests read `requests` and set the knobs."""

    url: str = ""
    requests: list[Recorded] = field(default_factory=list)
    # States GET pipelineJobs/<id> returns, one per call (the last one repeats).
    run_states: list[str] = field(
        default_factory=lambda: ["PIPELINE_STATE_RUNNING", "PIPELINE_STATE_SUCCEEDED"]
    )
    run_error: str = ""
    # (method, path regex, HTTP status, message): matching calls fail.
    failures: list[tuple[str, str, int, str]] = field(default_factory=list)
    resources: dict[str, dict] = field(default_factory=dict)  # resource name -> body
    # Artifact Registry: package name -> version or tag -> template bytes.
    packages: dict[str, dict[str, bytes]] = field(default_factory=dict)
    project_lookups: list[str] = field(default_factory=list)  # see tests/pipelines/vertex/conftest
    _ids: Iterator[int] = field(default_factory=lambda: itertools.count(1))

    def calls(self, method: str, pattern: str) -> list[Recorded]:
        return [r for r in self.requests if r.method == method and re.search(pattern, r.path)]

    def add(self, collection: str, parent: str, body: dict, resource_id: str = "") -> dict:
        name = f"{parent}/{collection}/{resource_id or next(self._ids)}"
        stored = {
            **body,
            "name": name,
            "createTime": f"2026-01-01T00:00:{len(self.resources):02d}Z",
        }
        self.resources[name] = stored
        return stored


@contextlib.contextmanager
def running_fake_vertex_api() -> Iterator[FakeVertexApi]:
    api = FakeVertexApi()
    with serving_on_loopback(_handler(api)) as url:
        api.url = url
        yield api


def _handler(api: FakeVertexApi) -> type[BaseHTTPRequestHandler]:
    class Handler(BaseHTTPRequestHandler):
        def log_message(self, *args) -> None:  # keep test output clean
            pass

        def do_GET(self) -> None:
            self._serve("GET")

        def do_POST(self) -> None:
            self._serve("POST")

        def do_PATCH(self) -> None:
            self._serve("PATCH")

        def do_DELETE(self) -> None:
            self._serve("DELETE")

        def _serve(self, method: str) -> None:
            parsed = urlparse(self.path)
            query = {k: v[0] for k, v in parse_qs(parsed.query).items()}
            raw = self.rfile.read(int(self.headers.get("Content-Length") or 0))
            body = _decode(raw, self.headers.get("Content-Type", ""))
            api.requests.append(Recorded(method, parsed.path, query, body))
            for fail_method, pattern, status, message in api.failures:
                if fail_method == method and re.search(pattern, parsed.path):
                    return self._json(status, _error(status, message))
            try:
                if parsed.path.startswith("/v1/"):  # ids may be escaped: models/1%40champion
                    status, payload = _vertex(api, method, unquote(parsed.path), query, body)
                    return self._json(status, payload)
                status, payload = _registry(api, method, parsed.path, body)
                self._text(status, payload)
            except KeyError as exc:
                self._json(404, _error(404, f"{exc.args[0]} not found"))

        def _json(self, status: int, payload: dict) -> None:
            self._text(status, json.dumps(payload).encode(), "application/json")

        def _text(self, status: int, payload: bytes, kind: str = "text/plain") -> None:
            self.send_response(status)
            self.send_header("Content-Type", kind)
            self.send_header("Content-Length", str(len(payload)))
            self.end_headers()
            self.wfile.write(payload)

    return Handler


def _vertex(api: FakeVertexApi, method: str, path: str, query: dict, body) -> tuple[int, dict]:
    if path.startswith("/v1/projects/") and "/operations/" in path:
        return 200, {"name": path[4:], "done": True}
    match = _PARENT.match(path)
    if not match:
        return 404, _error(404, f"no route {method} {path}")
    parent, collection, resource_id, verb = match.groups()
    name = f"{parent}/{collection}/{resource_id}"
    if verb == "undeployModel":
        endpoint = api.resources[name]
        gone = body["deployedModelId"]
        endpoint["deployedModels"] = [
            m for m in endpoint.get("deployedModels", []) if m["id"] != gone
        ]
        endpoint["trafficSplit"] = body.get("trafficSplit", {})
        return 200, {
            "name": f"{parent}/operations/{next(api._ids)}",
            "done": True,
            "response": {"@type": f"{_TYPES}.UndeployModelResponse"},
        }
    if method == "POST" and resource_id is None:
        job_id = query.get("pipelineJobId", "")
        if f"{parent}/{collection}/{job_id}" in api.resources:
            return 409, _error(409, f"PipelineJob {job_id} already exists")
        stored = api.add(collection, parent, body, job_id)
        if collection == "pipelineJobs":
            stored["state"] = "PIPELINE_STATE_PENDING"
            return 200, stored
        if collection == "schedules":
            stored["state"] = "ACTIVE"
            return 200, stored
        return 200, _done_operation(parent, stored, collection)
    if method == "GET" and resource_id is None:
        wanted = re.search(r'display_name="([^"]*)"', query.get("filter", ""))
        items = [
            r
            for n, r in sorted(api.resources.items(), key=lambda kv: kv[1]["createTime"])
            if n.startswith(f"{parent}/{collection}/")
            and (not wanted or r.get("displayName") == wanted.group(1))
        ]
        return 200, {collection: items}
    if "@" in resource_id:  # a model version by alias: models/<id>@<alias>
        base, _, alias = name.partition("@")
        version = api.resources.get(base, {})
        if method != "GET" or alias not in version.get("versionAliases", []):
            return 404, _error(404, f"Model {name} not found")
        return 200, version
    resource = api.resources[name]
    if method == "GET":
        if collection == "pipelineJobs":
            state = api.run_states.pop(0) if len(api.run_states) > 1 else api.run_states[0]
            resource["state"] = state
            if state == "PIPELINE_STATE_FAILED":
                resource["error"] = {"code": 9, "message": api.run_error}
        return 200, resource
    if method == "PATCH":
        resource.update(body)
        return 200, resource
    if method == "DELETE":
        del api.resources[name]
        return 200, {
            "name": f"{parent}/operations/{next(api._ids)}",
            "done": True,
            "response": {"@type": "type.googleapis.com/google.protobuf.Empty"},
        }
    return 404, _error(404, f"no route {method} {path}")


def _registry(api: FakeVertexApi, method: str, path: str, body) -> tuple[int, bytes]:
    """Artifact Registry KFP repository: POST /<project>/<repo> uploads, GET .../<name>/<ref>."""
    parts = path.strip("/").split("/")
    if method == "POST" and len(parts) == 2:
        content, tags = body["content"], body["tags"]
        spec_name = _pipeline_name(content)
        version = "sha256:" + hashlib.sha256(content).hexdigest()
        versions = api.packages.setdefault(spec_name, {})
        versions[version] = content
        for tag in tags:
            versions[tag] = content
        return 200, f"{spec_name}/{version}".encode()
    if method == "GET" and len(parts) == 4:
        return 200, api.packages[parts[2]][parts[3]]
    return 404, b"not found"


def _pipeline_name(content: bytes) -> str:
    return yaml.safe_load(content)["pipelineInfo"]["name"]


def _decode(raw: bytes, content_type: str):
    if not raw:
        return None
    if content_type.startswith("application/json"):
        return json.loads(raw)
    if content_type.startswith("multipart/form-data"):
        message = email.parser.BytesParser(policy=email.policy.HTTP).parsebytes(
            f"Content-Type: {content_type}\r\n\r\n".encode() + raw
        )
        fields: dict = {"tags": []}
        for part in message.iter_parts():
            key = part.get_param("name", header="content-disposition")
            value = part.get_payload(decode=True)
            if key == "content":
                fields["content"] = value
            elif key == "tags":
                fields["tags"].extend(value.decode().split(","))
        return fields
    return raw


def _done_operation(parent: str, resource: dict, collection: str) -> dict:
    kind = {"endpoints": "Endpoint", "models": "UploadModelResponse"}.get(collection, "Empty")
    return {
        "name": f"{parent}/operations/{resource['name'].rsplit('/', 1)[-1]}",
        "done": True,
        "response": {"@type": f"{_TYPES}.{kind}", **resource},
    }


def _error(status: int, message: str) -> dict:
    return {
        "error": {
            "code": status,
            "message": message,
            "status": _STATUS_NAMES.get(status, "UNKNOWN"),
        }
    }
