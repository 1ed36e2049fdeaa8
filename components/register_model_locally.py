"""Deploy (local twin): a blessed Model -> a new version in the local model registry."""

from google_cloud_pipeline_components.types.artifact_types import (
    UnmanagedContainerModel,
    VertexModel,
)
from kfp import dsl
from kfp.dsl import Input, Output

from components.images import PIPELINE_IMAGE


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
    from serving.registry import LocalModelRegistry

    version = LocalModelRegistry(registry_uri).register(
        model_name, model.path, labels={"source_model": model.uri}
    )
    registered_model.uri = str(version.path)
    registered_model.metadata["resourceName"] = version.resource_name
    print(f"Registered {version.resource_name} at {version.path} as champion")
