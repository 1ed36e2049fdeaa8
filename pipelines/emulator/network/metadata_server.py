"""A GCE metadata server on 127.0.0.1, so that `google.auth.default()` finds emulator credentials.

Client processes get GCE_METADATA_HOST / GCE_METADATA_IP pointing here. google-auth 2.63 then
pings the root (`GET /` with `Metadata-Flavor: Google`, and it wants that header back), reads
`project/project-id`, `instance/service-accounts/default/?recursive=true` (email, scopes),
`instance/service-accounts/default/token` (GET, or POST when binding a token to a certificate)
and `universe/universe-domain`; ID-token credentials read `.../identity?audience=...`. Like the
real server, requests without `Metadata-Flavor: Google` are refused with 403.
"""

from __future__ import annotations

import base64
import contextlib
import json
import sys
import threading
import time
from collections.abc import Iterator
from dataclasses import dataclass
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from urllib.parse import parse_qs, urlsplit

from pipelines.emulator.formats import PROJECT_NUMBER

ACCESS_TOKEN = "emulator-token"
TOKEN_LIFETIME_S = 3600
_ROOT = "/computeMetadata/v1/"
_SCOPES = ("https://www.googleapis.com/auth/cloud-platform",)
_ZONE = "us-central1-a"


@dataclass(frozen=True)
class _Identity:
    project: str
    service_account_email: str


class _Server(ThreadingHTTPServer):
    daemon_threads = True
    identity: _Identity

    def handle_error(self, request: object, client_address: object) -> None:
        if not isinstance(sys.exc_info()[1], ConnectionError):  # not just a client hanging up
            super().handle_error(request, client_address)


class _Handler(BaseHTTPRequestHandler):
    server: _Server
    protocol_version = "HTTP/1.1"
    server_version = "Metadata Server for VM"
    sys_version = ""
    timeout = 60  # an idle keep-alive connection does not hold its thread forever

    def do_GET(self) -> None:
        self._answer()

    def do_POST(self) -> None:
        length = int(self.headers.get("Content-Length") or 0)
        self.rfile.read(length)
        self._answer()

    def log_message(self, format: str, *args: object) -> None:  # quiet: no stderr per request
        pass

    def _answer(self) -> None:
        if self.headers.get("Metadata-Flavor") != "Google":
            self._send(403, "text/html", _MISSING_HEADER)
            return
        url = urlsplit(self.path)
        query = {key: values[-1] for key, values in parse_qs(url.query).items()}
        found = _lookup(self.server.identity, url.path, query)
        if found is None:
            self._send(404, "text/html", f"{url.path} is not served by the emulator's metadata")
        elif isinstance(found, str):
            self._send(200, "application/text", found)
        else:
            self._send(200, "application/json", json.dumps(found))

    def _send(self, status: int, content_type: str, body: str) -> None:
        payload = body.encode()
        self.send_response(status)
        self.send_header("Metadata-Flavor", "Google")
        self.send_header("Content-Type", content_type)
        self.send_header("Content-Length", str(len(payload)))
        self.end_headers()
        self.wfile.write(payload)


_MISSING_HEADER = (
    "Your client does not have permission to get URL from this server. "
    "Missing Metadata-Flavor:Google header."
)


def _lookup(identity: _Identity, path: str, query: dict[str, str]) -> str | dict | None:
    """The value at `path`, as text or JSON; None when there is none."""
    if path in ("", "/"):
        return "computeMetadata/\n"
    if not path.startswith(_ROOT):
        return None
    key = path.removeprefix(_ROOT).rstrip("/")
    project = {
        "project/project-id": identity.project,
        "project/numeric-project-id": PROJECT_NUMBER,
        "instance/zone": f"projects/{PROJECT_NUMBER}/zones/{_ZONE}",
        "universe/universe-domain": "googleapis.com",
        "instance/service-accounts": f"default/\n{identity.service_account_email}/\n",
    }
    if key in project:
        return project[key]
    prefix = "instance/service-accounts/"
    account, _, item = key.removeprefix(prefix).partition("/")
    if not key.startswith(prefix) or account not in ("default", identity.service_account_email):
        return None
    return _service_account(identity, item, query)


def _service_account(identity: _Identity, item: str, query: dict[str, str]) -> str | dict | None:
    email = identity.service_account_email
    if item == "":
        if query.get("recursive") == "true":
            return {"aliases": ["default"], "email": email, "scopes": list(_SCOPES)}
        return "aliases\nemail\nidentity\nscopes\ntoken\n"
    if item == "email":
        return email
    if item == "scopes":
        return "".join(f"{scope}\n" for scope in _SCOPES)
    if item == "aliases":
        return "default\n"
    if item == "token":
        return {
            "access_token": ACCESS_TOKEN,
            "expires_in": TOKEN_LIFETIME_S,
            "token_type": "Bearer",
        }
    if item == "identity" and query.get("audience"):
        return _identity_token(email, query["audience"])
    return None


def _identity_token(email: str, audience: str) -> str:
    """An unsigned-looking JWT with the claims google-auth reads (exp); nobody verifies it here."""
    now = int(time.time())
    claims = {
        "iss": "https://accounts.google.com",
        "aud": audience,
        "azp": email,
        "email": email,
        "email_verified": True,
        "sub": PROJECT_NUMBER,
        "iat": now,
        "exp": now + TOKEN_LIFETIME_S,
    }
    header = {"alg": "RS256", "typ": "JWT", "kid": "emulator"}
    parts = [json.dumps(part, separators=(",", ":")).encode() for part in (header, claims)]
    parts.append(b"emulator-signature")
    return ".".join(base64.urlsafe_b64encode(part).rstrip(b"=").decode() for part in parts)


@contextlib.contextmanager
def running_metadata_server(project: str, service_account_email: str) -> Iterator[str]:
    """Serve metadata for the block; yields "127.0.0.1:PORT" (the form GCE_METADATA_HOST takes)."""
    server = _Server(("127.0.0.1", 0), _Handler)
    server.identity = _Identity(project, service_account_email)
    thread = threading.Thread(
        target=server.serve_forever, kwargs={"poll_interval": 0.1}, name="emulator-metadata"
    )
    thread.start()
    try:
        yield f"127.0.0.1:{server.server_address[1]}"
    finally:
        server.shutdown()
        server.server_close()
        thread.join(timeout=5)
