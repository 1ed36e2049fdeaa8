"""metadata.json of an exported model: its completion marker and its description."""

from __future__ import annotations

from pathlib import Path

from trainer.artifact_dirs import read_marker_json

METADATA = "metadata.json"


def read_model_metadata(model_dir: str | Path) -> dict:
    """metadata.json of a completely exported model directory."""
    return read_marker_json(model_dir, METADATA, "Model")
