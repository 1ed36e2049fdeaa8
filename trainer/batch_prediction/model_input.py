"""Whether a SavedModel's `serving_default` takes strings, read from its saved_model.pb alone
(no variables loaded, local or gs://): Vertex AI sends a CSV row as a list of its values,
which a string input refuses, so the Vertex plan refuses CSV for such a model."""

from __future__ import annotations

from trainer.batch_prediction import files

SIGNATURE = "serving_default"


def takes_strings(artifact_uri: str) -> bool:
    """True when an input of the model at `artifact_uri` (its SavedModel folder) is a string."""
    from tensorflow.core.framework import types_pb2
    from tensorflow.core.protobuf import saved_model_pb2

    data = files.read_bytes(f"{artifact_uri.rstrip('/')}/saved_model.pb")
    model = saved_model_pb2.SavedModel.FromString(data)
    return any(
        spec.dtype == types_pb2.DT_STRING
        for graph in model.meta_graphs
        if SIGNATURE in graph.signature_def
        for spec in graph.signature_def[SIGNATURE].inputs.values()
    )
