"""Vertex AI only: the resources a deployment reuses or retires, and a training job's pools.

Defaults such as "{{$.pipeline_google_cloud_project_id}}" are placeholders
Vertex AI Pipelines fills in with the run's project and region. The lookups
take the run's id (`pipeline_run`) so that no run is ever served another
run's cached answer, even with caching forced on for the whole job.
"""

from google_cloud_pipeline_components.types.artifact_types import VertexEndpoint, VertexModel
from kfp import dsl
from kfp.dsl import Input, Output

from components.images import PIPELINE_IMAGE


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
    from serving.vertex_resources import find_parent_model, resource_uri

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
    from serving.vertex_resources import get_or_create_endpoint as get_or_create
    from serving.vertex_resources import resource_uri

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
    from serving.vertex_resources import undeploy_idle_models as undeploy

    return len(undeploy(endpoint.metadata["resourceName"], project, location))


@dsl.component(base_image=PIPELINE_IMAGE, install_kfp_package=False)
def worker_pool_specs(
    pool_template: dict,
    machine_type: str,
    accelerator_type: str,
    accelerator_count: int,
    replica_count: int,
) -> list:
    """A training job's worker pools from the machine parameters, typed for CustomJob.

    In: pool_template (one pool without machine_spec and replica_count; see
    trainer.worker_pools), the machine parameters. Out: [chief] or [chief,
    replica_count - 1 workers] with int counts, for the job's worker_pool_specs.
    """
    from trainer.worker_pools import worker_pool_specs as build

    return build(
        pool_template,
        machine_type=machine_type,
        accelerator_type=accelerator_type,
        accelerator_count=accelerator_count,
        replica_count=replica_count,
    )
