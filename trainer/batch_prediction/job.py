"""A local batch prediction job, as the pipeline's local step and `make predict` run it: the
registered model named by version, alias or the champion, loaded once, then `batch_predict`."""

from __future__ import annotations

from serving.registry.local_registry import LocalModelRegistry
from serving.server.loaded_model import LoadedModel
from trainer.batch_prediction.model_choice import chosen_version
from trainer.batch_prediction.predict import BatchSummary, batch_predict
from trainer.batch_prediction.sources import resolve_source


def local_job(
    registry_uri: str,
    model_name: str,
    model_version: str,
    source_uri: str,
    output_uri: str,
    instances_format: str = "",
    local_database: str = "",
    batch_size: int = 64,
) -> BatchSummary:
    """Predict `source_uri` with the chosen version of `model_name` into `output_uri`."""
    source = resolve_source(source_uri, instances_format)  # before loading any model
    registry = LocalModelRegistry(registry_uri)
    version = chosen_version(registry, model_name, model_version)
    model = LoadedModel(model_name, version, registry.version_dir(model_name, version))
    return batch_predict(model, source, output_uri, batch_size, local_database)
