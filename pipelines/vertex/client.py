"""Point the google-cloud-aiplatform SDK at the configured project, region and endpoint."""

from __future__ import annotations

import google.auth
from google.auth.credentials import AnonymousCredentials
from google.auth.exceptions import DefaultCredentialsError
from google.cloud import aiplatform

from pipelines.vertex.settings import VertexSettings


def init_vertex(settings: VertexSettings, offline: bool = False) -> None:
    """aiplatform.init for `settings`.

    VERTEX_API_ENDPOINT reaches a regional or private endpoint; an http://
    endpoint is a local stand-in (tests), reached over REST with anonymous
    credentials, as is an `offline` (dry) run, which sends nothing.
    Otherwise the SDK's defaults apply: gRPC and application default
    credentials, which must exist.
    """
    options: dict = {"project": settings.project, "location": settings.region}
    if settings.api_endpoint:
        options["api_endpoint"] = settings.api_endpoint
    if settings.uses_loopback:
        options["api_transport"] = "rest"
    if settings.uses_loopback or offline:
        options["credentials"] = AnonymousCredentials()
    else:
        try:
            google.auth.default()
        except DefaultCredentialsError:
            raise SystemExit(
                "No Google Cloud credentials found: run `gcloud auth application-default login` "
                "(or set GOOGLE_APPLICATION_CREDENTIALS to a service account key file)."
            ) from None
    aiplatform.init(**options)


def console_url(resource_name: str, settings: VertexSettings) -> str:
    """The Cloud console page of a pipeline run."""
    run = resource_name.rsplit("/", 1)[-1]
    return (
        f"https://console.cloud.google.com/vertex-ai/locations/{settings.region}/pipelines/runs/"
        f"{run}?project={settings.project}"
    )
