"""Google Cloud API errors as one short message: what failed, on which resource, the likely fix."""

from __future__ import annotations

import contextlib
import urllib.error
from collections.abc import Iterator

import requests
from google.api_core import exceptions
from google.auth.exceptions import GoogleAuthError

_FIXES: dict[int, str] = {
    400: "the request was rejected as invalid: check the values above against the message",
    401: "no valid credentials: run `gcloud auth application-default login`",
    403: (
        "the caller or the pipeline's service account lacks a role: the service account needs "
        "roles/aiplatform.user and storage access to PIPELINE_ROOT, and you need "
        "roles/iam.serviceAccountUser on it to run pipelines as it (`make infra` grants these); "
        "also check that the Vertex AI API is enabled"
    ),
    404: (
        "it does not exist: check GOOGLE_CLOUD_PROJECT and VERTEX_REGION, and that the "
        "repository, bucket or schedule was created (`make infra`)"
    ),
    409: "it already exists: choose another name or remove the old one",
    429: (
        "a quota is exhausted: wait and retry, use a smaller machine type or another region, "
        "or request more quota (console: IAM & Admin > Quotas)"
    ),
}


class VertexApiError(SystemExit):
    """A failed Google Cloud API call, explained in one message (exits the CLI non-zero)."""


@contextlib.contextmanager
def explained(action: str, resource: str) -> Iterator[None]:
    """Turn an API error raised in the block into a VertexApiError naming `resource`."""
    try:
        yield
    except exceptions.GoogleAPICallError as exc:
        raise VertexApiError(_message(action, resource, exc.code, exc.message)) from None
    except requests.HTTPError as exc:
        response = exc.response
        status = response.status_code if response is not None else None
        text = (response.text if response is not None else str(exc)).strip()[:300]
        raise VertexApiError(_message(action, resource, status, text)) from None
    except urllib.error.HTTPError as exc:  # the SDK downloads templates with urllib
        detail = exc.read().decode(errors="replace").strip()[:300] or exc.reason
        raise VertexApiError(_message(action, resource, exc.code, detail)) from None
    except (requests.ConnectionError, urllib.error.URLError) as exc:
        raise VertexApiError(f"Could not {action} {resource}: cannot connect ({exc}).") from None
    except GoogleAuthError as exc:
        raise VertexApiError(
            f"Could not {action} {resource}: credentials failed ({exc}).\n"
            f"Likely fix: {_FIXES[401]}."
        ) from None


def _message(action: str, resource: str, status: int | None, detail: str) -> str:
    status = int(status) if status is not None else None
    fix = _FIXES.get(status, "see the message from the API")
    code = f" (HTTP {status})" if status else ""
    return f"Could not {action} {resource}{code}: {detail}\nLikely fix: {fix}."
