"""metadata.json of an exported model: its completion marker and its description."""

from __future__ import annotations

from pathlib import Path

from serving.contracts.artifact_dirs import read_marker_json
from serving.contracts.errors import InputError

METADATA = "metadata.json"


def read_model_metadata(model_dir: str | Path) -> dict:
    """metadata.json of a completely exported model directory."""
    return read_marker_json(model_dir, METADATA, "Model")


def refuse_finished_model(model_dir: str | Path) -> None:
    """Raise before training if `model_dir` already holds a finished export (never overwrite)."""
    if (Path(model_dir) / METADATA).exists():
        raise FileExistsError(
            f"{model_dir} already holds a trained model ({METADATA}): write to a new "
            "directory, or remove it first."
        )


def check_trained_classes(
    model_dir: str | Path,
    dataset_dir: str | Path,
    classes: list[str],
    error: type[Exception] = InputError,
) -> None:
    """Raise `error` unless the classifier at `model_dir` was trained on `classes`."""
    trained_on = read_model_metadata(model_dir).get("classes")
    if trained_on != classes:
        raise error(
            f"The model at {model_dir} was trained on classes {trained_on} but the "
            f"dataset at {dataset_dir} has {classes}: evaluate on the dataset it was trained on."
        )
