"""The emulator's metadata server: the Metadata-Flavor header, the token, the paths it answers."""

from __future__ import annotations

import http.client
import json

from tests.pipelines.emulator.network_upstreams import PROJECT, SERVICE_ACCOUNT, SOCKET_TIMEOUT_S


def _metadata(host: str, path: str, headers: dict[str, str]) -> tuple[int, dict[str, str], str]:
    connection = http.client.HTTPConnection(host, timeout=SOCKET_TIMEOUT_S)
    try:
        connection.request("GET", path, headers=headers)
        response = connection.getresponse()
        return response.status, dict(response.headers), response.read().decode()
    finally:
        connection.close()


def test_the_metadata_server_requires_the_flavor_header(metadata_host):
    path = "/computeMetadata/v1/instance/service-accounts/default/token"
    status, headers, body = _metadata(metadata_host, path, {})
    assert (status, headers["Metadata-Flavor"]) == (403, "Google")
    assert "Metadata-Flavor" in body
    assert _metadata(metadata_host, path, {"Metadata-Flavor": "Amazon"})[0] == 403
    status, _, body = _metadata(metadata_host, path, {"Metadata-Flavor": "Google"})
    assert status == 200
    assert json.loads(body) == {
        "access_token": "emulator-token",
        "expires_in": 3600,
        "token_type": "Bearer",
    }


def test_the_metadata_server_answers_like_the_real_one(metadata_host):
    flavor = {"Metadata-Flavor": "Google"}
    status, headers, _ = _metadata(metadata_host, "/", flavor)
    assert (status, headers["Metadata-Flavor"]) == (200, "Google")
    root = "/computeMetadata/v1/"
    _, headers, body = _metadata(
        metadata_host, f"{root}instance/service-accounts/default/?recursive=true", flavor
    )
    assert headers["Content-Type"] == "application/json"
    assert json.loads(body)["email"] == SERVICE_ACCOUNT
    assert _metadata(metadata_host, f"{root}project/project-id", flavor)[2] == PROJECT
    assert _metadata(metadata_host, f"{root}instance/service-accounts/x@y/", flavor)[0] == 404
    assert _metadata(metadata_host, "/elsewhere", flavor)[0] == 404
