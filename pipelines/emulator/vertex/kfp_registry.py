"""Artifact Registry's KFP repository (https://<region>-kfp.pkg.dev/<project>/<repo>).

What kfp's RegistryClient and the aiplatform SDK use for `make deploy`:
POST /<project>/<repo> uploads a template (multipart: content, tags) and
answers "<package>/<version>"; GET /<project>/<repo>/<package>/<version or
tag> returns it. Packages are named after the pipeline, versions are the
template's sha256, as Artifact Registry names them.
"""

from __future__ import annotations

import email.parser
import email.policy
import hashlib
import threading
from collections.abc import Mapping

import yaml

Response = tuple[int, dict[str, str], bytes]


class KfpRegistry:
    def __init__(self) -> None:
        self.packages: dict[str, dict[str, bytes]] = {}  # package -> version or tag -> template
        self._lock = threading.Lock()

    def handle(
        self, method: str, path: str, query: Mapping[str, str], headers: Mapping[str, str],
        body: bytes,
    ) -> Response | None:  # fmt: skip
        """Answer a request for a *-kfp.pkg.dev host; None for any other host."""
        if not headers.get("Host", headers.get("host", "")).split(":")[0].endswith("kfp.pkg.dev"):
            return None
        parts = path.split("?")[0].strip("/").split("/")
        if method == "POST" and len(parts) == 2:
            return self._upload(headers.get("Content-Type", ""), body)
        if method == "GET" and len(parts) == 4:
            with self._lock:
                template = self.packages.get(parts[2], {}).get(parts[3])
            if template is not None:
                return 200, {"Content-Type": "application/x-yaml"}, template
        return 404, {"Content-Type": "text/plain"}, f"{method} {path} not found".encode()

    def _upload(self, content_type: str, body: bytes) -> Response:
        fields = _multipart(content_type, body)
        content = fields.get("content")
        if not content:
            return 400, {"Content-Type": "text/plain"}, b"multipart field 'content' is required"
        try:
            package = yaml.safe_load(content)["pipelineInfo"]["name"]
        except (yaml.YAMLError, KeyError, TypeError):
            return 400, {"Content-Type": "text/plain"}, b"content is not a compiled pipeline"
        version = "sha256:" + hashlib.sha256(content).hexdigest()
        with self._lock:
            versions = self.packages.setdefault(package, {})
            versions[version] = content
            for tag in fields.get("tags", b"").decode().split(","):
                if tag.strip():
                    versions[tag.strip()] = content
        return 200, {"Content-Type": "text/plain"}, f"{package}/{version}".encode()


def _multipart(content_type: str, body: bytes) -> dict[str, bytes]:
    message = email.parser.BytesParser(policy=email.policy.HTTP).parsebytes(
        f"Content-Type: {content_type}\r\n\r\n".encode() + body
    )
    if not message.is_multipart():
        return {}
    return {
        part.get_param("name", header="content-disposition"): part.get_payload(decode=True)
        for part in message.iter_parts()
    }
