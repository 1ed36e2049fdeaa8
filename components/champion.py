"""Find the champion (the model now deployed) that evaluation compares a new model with."""

from kfp import dsl

from components.container_images import PIPELINE_IMAGE


@dsl.component(base_image=PIPELINE_IMAGE, install_kfp_package=False)
def find_local_champion(registry_uri: str, model_name: str, pipeline_run: str) -> str:
    """Local twin: the directory of `model_name`'s champion in the local registry, or "".

    `pipeline_run` keeps a cached answer from being reused by another run.
    """
    from serving.registry.local_registry import LocalModelRegistry

    champion = LocalModelRegistry(registry_uri).champion(model_name)
    if champion is None:
        print(f"No champion of {model_name!r} yet: the new model is compared with nothing")
        return ""
    print(f"Champion: {model_name} version {champion.version} at {champion.path}")
    return str(champion.path)


@dsl.component(base_image=PIPELINE_IMAGE, install_kfp_package=False)
def find_vertex_champion(
    display_name: str,
    pipeline_run: str,
    project: str = "{{$.pipeline_google_cloud_project_id}}",
    location: str = "{{$.pipeline_google_cloud_location}}",
) -> str:
    """The gs:// artifact URI of the Model Registry version aliased `champion`, or ""."""
    from serving.registry.vertex_models import champion_artifact_uri

    return champion_artifact_uri(display_name, project, location)
