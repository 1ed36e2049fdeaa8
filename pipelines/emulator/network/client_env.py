"""The environment that points an unmodified Google Cloud client process at the emulator.

requests, grpc, httpx, google-auth, the aiplatform SDK, GCPC's launchers and the BigQuery and
Storage clients all read these variables, so the emulator changes no client code:

- `https_proxy` sends every HTTPS connection (requests via CONNECT, grpc via its http_proxy
  mapper, which grpcio enables by default) to the emulator's proxy. `http_proxy` too, so that
  plain HTTP to any non-loopback host is refused there instead of leaving the machine.
  `no_proxy` keeps loopback direct: the storage emulator and the metadata server.
- The proxy's CA is the only trusted root: REQUESTS_CA_BUNDLE (requests), SSL_CERT_FILE (httpx,
  Python's default context), GRPC_DEFAULT_SSL_ROOTS_FILE_PATH (grpc core reads it first).
- google-auth pings `http://$GCE_METADATA_IP/` to decide it is on GCE, then reads everything else
  from `http://$GCE_METADATA_HOST/computeMetadata/v1/`; both name the loopback metadata server.
- CLOUDSDK_CONFIG names an empty directory, so a developer's own gcloud application-default
  credentials (and certificate_config.json, which turns on mTLS) are never found;
  CLEARED_VARIABLES are removed because they would override the metadata server or the proxy.

Set them when the process starts: google-auth reads GCE_METADATA_HOST when it is imported, and
grpc reads its proxy (lower-case names only) and root certificates once per process.
"""

from __future__ import annotations

from collections.abc import Mapping
from pathlib import Path

from pipelines.emulator.network.tls import Certificates

CLEARED_VARIABLES: tuple[str, ...] = (
    # Credentials that google.auth.default() would prefer to the metadata server, or a switch
    # that makes it skip the metadata server.
    "GOOGLE_APPLICATION_CREDENTIALS",
    "NO_GCE_CHECK",
    # Client-certificate configs (mTLS, certificate-bound tokens), which the proxy cannot serve.
    "GOOGLE_API_CERTIFICATE_CONFIG",
    "CLOUDSDK_CONTEXT_AWARE_CERTIFICATE_CONFIG_FILE_PATH",
    # A universe other than googleapis.com moves every endpoint off the proxy's certificate.
    "GOOGLE_CLOUD_UNIVERSE_DOMAIN",
    # An extra lookup (to iamcredentials) that google-auth makes only when opted in.
    "GOOGLE_SDK_EXPERIMENTAL_PYTHON_REGIONAL_ACCESS_BOUNDARY_LOOKUP_ENABLED",
    # Project settings that would disagree with the emulator's project.
    "GCLOUD_PROJECT",
    "GOOGLE_CLOUD_QUOTA_PROJECT",
    # grpc reads these before https_proxy / no_proxy.
    "grpc_proxy",
    "no_grpc_proxy",
)


def client_environment(
    proxy_port: int,
    metadata_host: str,
    certificates: Certificates,
    project: str,
    home: Path,
) -> dict[str, str]:
    """Variables to set in a client process; `metadata_host` is "127.0.0.1:PORT"."""
    proxy = f"http://127.0.0.1:{proxy_port}"
    loopback = "127.0.0.1,localhost,::1"
    ca = str(certificates.ca_path)
    gcloud_config = home / "gcloud"
    gcloud_config.mkdir(parents=True, exist_ok=True)
    return {
        "https_proxy": proxy,
        "HTTPS_PROXY": proxy,
        "http_proxy": proxy,
        "HTTP_PROXY": proxy,
        "no_proxy": loopback,
        "NO_PROXY": loopback,
        "REQUESTS_CA_BUNDLE": ca,
        "SSL_CERT_FILE": ca,
        "GRPC_DEFAULT_SSL_ROOTS_FILE_PATH": ca,
        "GCE_METADATA_HOST": metadata_host,
        "GCE_METADATA_IP": metadata_host,
        "GCE_METADATA_MTLS_MODE": "none",
        "GOOGLE_API_USE_CLIENT_CERTIFICATE": "false",
        "GOOGLE_API_USE_MTLS_ENDPOINT": "never",
        "GOOGLE_CLOUD_PROJECT": project,
        "CLOUDSDK_CONFIG": str(gcloud_config),
    }


def apply(env: Mapping[str, str], overrides: Mapping[str, str]) -> dict[str, str]:
    """A copy of `env` without CLEARED_VARIABLES, with `overrides` set on top."""
    result = {key: value for key, value in env.items() if key not in CLEARED_VARIABLES}
    result.update(overrides)
    return result
