"""The emulator's certificates (made, reused, verified) and the client environment it sets."""

from __future__ import annotations

import contextlib
import datetime
import socket
import ssl
import threading
from pathlib import Path

import pytest

from pipelines.emulator.network import tls
from pipelines.emulator.network.client_env import CLEARED_VARIABLES, apply, client_environment
from pipelines.emulator.network.tls import make_certificates
from tests.pipelines.emulator.network_upstreams import API_HOST, PROJECT, SOCKET_TIMEOUT_S


def test_certificates_are_reused_while_valid_and_remade_when_not(tmp_path, monkeypatch):
    first = make_certificates(tmp_path)
    assert first.key_path.stat().st_mode & 0o777 == 0o600
    pem = first.cert_path.read_bytes()
    assert make_certificates(tmp_path).cert_path.read_bytes() == pem

    first.ca_path.write_text("not a certificate")
    assert make_certificates(tmp_path).cert_path.read_bytes() != pem

    pem = first.cert_path.read_bytes()
    first.key_path.chmod(0o644)  # a readable key is not reused
    assert make_certificates(tmp_path).cert_path.read_bytes() != pem

    first.cert_path.unlink()
    monkeypatch.setattr(tls, "_VALIDITY", datetime.timedelta(hours=2))  # inside renewal margin
    pem = make_certificates(tmp_path).cert_path.read_bytes()
    assert make_certificates(tmp_path).cert_path.read_bytes() != pem


@pytest.mark.parametrize(
    ("host", "valid"),
    [
        (API_HOST, True),
        ("googleapis.com", True),
        ("example.com", False),
        ("a.b.googleapis.com", False),
    ],
)
def test_the_server_certificate_verifies_for_googleapis_hosts_only(certificates, host, valid):
    server = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
    server.load_cert_chain(certificates.cert_path, certificates.key_path)
    client = ssl.create_default_context(cafile=certificates.ca_path)
    server_side, client_side = socket.socketpair()
    with server_side, client_side:
        server_side.settimeout(SOCKET_TIMEOUT_S)
        accept = threading.Thread(target=_accept_tls, args=(server, server_side), daemon=True)
        accept.start()
        if valid:
            client.wrap_socket(client_side, server_hostname=host).close()
        else:
            with pytest.raises(ssl.SSLCertVerificationError):
                client.wrap_socket(client_side, server_hostname=host)
        client_side.close()
        accept.join(timeout=SOCKET_TIMEOUT_S)


def _accept_tls(context: ssl.SSLContext, sock: socket.socket) -> None:
    with contextlib.suppress(OSError, ssl.SSLError):  # the client may refuse the certificate
        context.wrap_socket(sock, server_side=True).close()


def test_apply_removes_cleared_variables_and_sets_the_overrides(tmp_path, certificates):
    parent = {"GOOGLE_APPLICATION_CREDENTIALS": "/key.json", "grpc_proxy": "x", "PATH": "/bin"}
    overrides = client_environment(1234, "127.0.0.1:5678", certificates, PROJECT, tmp_path)
    env = apply(parent, overrides)
    assert set(CLEARED_VARIABLES).isdisjoint(env)
    assert env["PATH"] == "/bin"
    assert env["https_proxy"] == "http://127.0.0.1:1234"
    assert env["GCE_METADATA_HOST"] == env["GCE_METADATA_IP"] == "127.0.0.1:5678"
    assert env["GRPC_DEFAULT_SSL_ROOTS_FILE_PATH"] == str(certificates.ca_path)
    assert "127.0.0.1" in env["no_proxy"].split(",")
    gcloud = Path(env["CLOUDSDK_CONFIG"])
    assert gcloud.is_dir() and gcloud.is_relative_to(tmp_path) and not any(gcloud.iterdir())
    assert parent["GOOGLE_APPLICATION_CREDENTIALS"] == "/key.json"  # the input is not changed
