"""A model's data baseline: the schema and training statistics kept inside the model.

`<model>/data_baseline/` holds schema.json (and schema.pbtxt), the schema the training
data passed, and statistics.json (and statistics.pb), that data's statistics. The
next run's validation reads the champion's, and monitoring compares served traffic
with them.
"""

from __future__ import annotations

import logging
from pathlib import Path

from trainer.data_validation.schema import SCHEMA_FILE, read_schema
from trainer.data_validation.statistics import read_statistics
from trainer.distribution.job_dirs import local_path

BASELINE_DIR = "data_baseline"

log = logging.getLogger(__name__)


def data_attachments(data_baseline_dir: str | Path | None) -> dict[str, Path]:
    """What `save_servable` copies into a model: the data baseline, when training has one."""
    return {BASELINE_DIR: Path(data_baseline_dir)} if data_baseline_dir else {}


def model_baseline(model_uri: str | Path, source: str = "champion_uri") -> tuple[dict, dict] | None:
    """The (schema, training statistics) kept in the model at `model_uri` (a directory, or
    gs:// through the /gcs mount), or None for a model made before models kept them."""
    directory = local_path(model_uri, source) / BASELINE_DIR
    if not (directory / SCHEMA_FILE).is_file():
        log.warning(
            "The model at %s keeps no data baseline (it was trained before data validation).",
            model_uri,
        )
        return None
    return (
        read_schema(directory, f"The schema kept in {model_uri}"),
        read_statistics(directory, f"The training statistics kept in {model_uri}"),
    )
