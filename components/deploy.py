"""Deploy a blessed model: to the local registry, or to Vertex AI's Model Registry and an endpoint.

Locally a blessed model becomes a new version of the local registry
(register_model_locally). On Vertex AI, GCPC's ModelUploadOp and ModelDeployOp
do the work; the steps here find the resources they reuse or retire. Defaults
such as "{{$.pipeline_google_cloud_project_id}}" are placeholders Vertex AI
Pipelines fills in with the run's project and region. The lookups take the
run's id (`pipeline_run`) so that no run is ever served another run's cached
answer, even with caching forced on for the whole job.
"""

from google_cloud_pipeline_components.types.artifact_types import (
    UnmanagedContainerModel,
    VertexEndpoint,
    VertexModel,
)
from kfp import dsl
from kfp.dsl import Input, Output

from components.container_images import PIPELINE_IMAGE


@dsl.component(base_image=PIPELINE_IMAGE, install_kfp_package=False)
def parent_model(
    display_name: str,
    pipeline_run: str,
    model: Output[VertexModel],
    project: str = "{{$.pipeline_google_cloud_project_id}}",
    location: str = "{{$.pipeline_google_cloud_location}}",
):
    """Finds the model that new versions of `display_name` are uploaded under.

    Out: model (google.VertexModel) whose resourceName is that model, or empty
    on the first upload, which ModelUploadOp then treats as "no parent".
    """
    from serving.registry.vertex_models import find_parent_model, resource_uri

    name = find_parent_model(display_name, project, location) or ""
    model.metadata["resourceName"] = name
    if name:
        model.uri = resource_uri(name, location)


@dsl.component(base_image=PIPELINE_IMAGE, install_kfp_package=False)
def get_or_create_endpoint(
    display_name: str,
    pipeline_run: str,
    endpoint: Output[VertexEndpoint],
    project: str = "{{$.pipeline_google_cloud_project_id}}",
    location: str = "{{$.pipeline_google_cloud_location}}",
):
    """Reuses the endpoint named `display_name`, or creates it.

    Out: endpoint (google.VertexEndpoint) for ModelDeployOp.
    """
    from serving.registry.vertex_models import get_or_create_endpoint as get_or_create
    from serving.registry.vertex_models import resource_uri

    name = get_or_create(display_name, project, location)
    endpoint.metadata["resourceName"] = name
    endpoint.uri = resource_uri(name, location)


@dsl.component(base_image=PIPELINE_IMAGE, install_kfp_package=False)
def undeploy_idle_models(
    endpoint: Input[VertexEndpoint],
    project: str = "{{$.pipeline_google_cloud_project_id}}",
    location: str = "{{$.pipeline_google_cloud_location}}",
) -> int:
    """Undeploys the endpoint's models that get no traffic after a deployment.

    Returns how many were undeployed (their machines stop being billed).
    """
    from serving.registry.vertex_models import undeploy_idle_models as undeploy

    return len(undeploy(endpoint.metadata["resourceName"], project, location))


@dsl.component(base_image=PIPELINE_IMAGE, install_kfp_package=False)
def register_model_locally(
    model: Input[UnmanagedContainerModel],
    registry_uri: str,
    model_name: str,
    registered_model: Output[VertexModel],
):
    """Copies the model into <registry_uri>/<model_name>/versions/<n> and makes it champion.

    Out: registered_model, typed google.VertexModel like the output of Vertex's
    ModelUploadOp, with resourceName local/models/<name>/versions/<n>.
    """
    from serving.registry.local_registry import LocalModelRegistry

    version = LocalModelRegistry(registry_uri).register(
        model_name, model.path, labels={"source_model": model.uri}
    )
    registered_model.uri = str(version.path)
    registered_model.metadata["resourceName"] = version.resource_name
    print(f"Registered {version.resource_name} at {version.path} as champion")
