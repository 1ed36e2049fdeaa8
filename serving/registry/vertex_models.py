"""Find or create the Vertex AI resources a deployment reuses, by display name.

Model Registry keeps history only when each new model is uploaded as a
version of the same parent model, and an endpoint keeps its URL only when
each deployment reuses it, so both are looked up by display name first.
Calls go through the google-cloud-aiplatform SDK (tested against a loopback
stand-in of the Vertex AI API).
"""

from __future__ import annotations

import logging

from google.api_core import exceptions as api_exceptions
from google.cloud import aiplatform

from serving.contracts.errors import InputError

log = logging.getLogger(__name__)

CHAMPION_ALIAS = "champion"


def resource_uri(resource_name: str, location: str) -> str:
    """The https URI kfp's google.Vertex* artifact types expect for a resource name."""
    return f"https://{location}-aiplatform.googleapis.com/v1/{resource_name}"


def find_parent_model(display_name: str, project: str, location: str) -> str | None:
    """Resource name of the model new versions go under: the oldest with this name, if any."""
    _check_display_name(display_name, "model_name")
    models = _named(aiplatform.Model, display_name, project, location)
    if not models:
        log.info("No model named %r yet: this upload creates it", display_name)
        return None
    if len(models) > 1:
        log.warning(
            "%d models are named %r; new versions go under the oldest, %s",
            len(models),
            display_name,
            models[0].resource_name,
        )
    return models[0].resource_name


def champion_artifact_uri(display_name: str, project: str, location: str) -> str:
    """Artifact URI (gs://) of the parent model's version aliased `champion`; "" if none.

    Deployments upload each blessed model with the aliases `default` and
    `champion` (pipelines/targets.py), so both move to it together.
    """
    parent = find_parent_model(display_name, project, location)
    if parent is None:
        return ""
    try:
        champion = aiplatform.Model(
            f"{parent}@{CHAMPION_ALIAS}", project=project, location=location
        )
    except api_exceptions.NotFound:
        log.info("%s has no version aliased %r yet", parent, CHAMPION_ALIAS)
        return ""
    log.info("Champion: %s (version %s) at %s", parent, champion.version_id, champion.uri)
    return champion.uri or ""


def model_version_name(display_name: str, model_version: str, project: str, location: str) -> str:
    """Resource name (`...models/ID@VERSION`) of the parent model's version `model_version`
    (a version id or an alias; "" is the champion); InputError naming what exists when none."""
    wanted = (model_version or "").strip() or CHAMPION_ALIAS
    parent = find_parent_model(display_name, project, location)
    if parent is None:
        raise InputError(
            f"Model Registry has no model named {display_name!r} in {project}/{location}: run "
            "its training pipeline first (make submit)."
        )
    try:
        model = aiplatform.Model(f"{parent}@{wanted}", project=project, location=location)
    except api_exceptions.NotFound:
        raise InputError(
            f"{parent} has no version or alias {wanted!r}: name a version id or an alias "
            "(champion, default) it has."
        ) from None
    log.info("Batch prediction with %s version %s", parent, model.version_id)
    return f"{parent}@{model.version_id}"


def get_or_create_endpoint(display_name: str, project: str, location: str) -> str:
    """Resource name of the endpoint with this display name, created when there is none."""
    _check_display_name(display_name, "endpoint_name")
    endpoints = _named(aiplatform.Endpoint, display_name, project, location)
    if endpoints:
        log.info("Reusing endpoint %s (%r)", endpoints[0].resource_name, display_name)
        return endpoints[0].resource_name
    endpoint = aiplatform.Endpoint.create(
        display_name=display_name, project=project, location=location
    )
    log.info("Created endpoint %s (%r)", endpoint.resource_name, display_name)
    return endpoint.resource_name


def undeploy_idle_models(endpoint_name: str, project: str, location: str) -> list[str]:
    """Undeploy the models the endpoint sends no traffic to; returns their deployed ids.

    A new deployment with traffic_split {"0": 100} leaves the earlier models
    deployed at 0%, each still on its own machines (and billed); a canary
    split keeps the models it names.
    """
    endpoint = aiplatform.Endpoint(endpoint_name, project=project, location=location)
    traffic = endpoint.traffic_split
    idle = [m.id for m in endpoint.list_models() if not traffic.get(m.id)]
    for deployed_model_id in idle:
        log.info("Undeploying %s from %s: it gets no traffic", deployed_model_id, endpoint_name)
        endpoint.undeploy(deployed_model_id)
    return idle


def _named(resource: type, display_name: str, project: str, location: str) -> list:
    """Resources of a kind with this display name, oldest first."""
    return resource.list(
        filter=f'display_name="{display_name}"',
        order_by="create_time",
        project=project,
        location=location,
    )


def _check_display_name(display_name: str, parameter: str) -> None:
    if not display_name or '"' in display_name or len(display_name) > 128:
        raise ValueError(
            f"{parameter} {display_name!r} must be 1-128 characters without double quotes, "
            "e.g. 'vision'."
        )
