"""The limits of the pipeline parameters that are not training settings, declared once.

A training setting declares its limit with its field (`trainer/<case>/config.py`);
the parameters here have no such field: where the model goes, the machines, the
ingest options and the quality gate. A parameter of this name in any pipeline
has this limit, unless its case's training config declares the name itself
(the timeseries split's test_fraction). `case_limits(case)` gives every limit
of a case study's pipeline, which the commands check before any step and the
steps check when they start.
"""

from __future__ import annotations

import dataclasses
import importlib

from serving.contracts.limits import MODEL_NAME, Limit, declared_limits, fraction
from trainer.catalog import check_case_name
from trainer.distribution.options import DistributionOptions

PIPELINE_LIMITS: dict[str, Limit] = {
    # Where a blessed model goes (pipelines.targets.Deployment).
    "model_name": MODEL_NAME,
    "serving_min_replica_count": Limit(1, 1000, advice="serving machines"),
    "serving_max_replica_count": Limit(1, 1000, advice="serving machines"),
    # The training machines (pipelines.targets.TrainingResources).
    "train_replica_count": Limit(1, 256, advice="1, or more for multi-worker training"),
    "train_accelerator_count": Limit(0, 16, advice="accelerators per training machine"),
    # Ingest options (the ingest functions' parameters).
    "validation_fraction": fraction(high_open=True),
    "test_fraction": fraction(high_open=True),
    "min_images_per_class": Limit(1, 10**6),
    "min_examples_per_class": Limit(1, 10**6),
    "max_chars": Limit(1, 10**6, advice="characters kept of each text"),
    # The quality gate (evaluation).
    "accuracy_threshold": fraction(advice="the test accuracy a model needs, e.g. 0.8"),
    "regression_tolerance": fraction(high_open=True, advice="a share of the champion's score"),
    "baseline_margin": fraction(high_open=True, advice="a share of the baseline's MAE"),
    "season_length": Limit(0, 10**6, advice="steps per season; 0: from the data's frequency"),
}


def training_config(case: str) -> type:
    """The training config dataclass of case study `case` (without importing TensorFlow)."""
    module = importlib.import_module(f"trainer.{check_case_name(case)}.config")
    (config,) = (
        value
        for value in vars(module).values()
        if dataclasses.is_dataclass(value)
        and isinstance(value, type)
        and issubclass(value, DistributionOptions)
        and value.__module__ == module.__name__
    )
    return config


def case_limits(case: str) -> dict[str, Limit]:
    """Parameter name -> Limit for every limited parameter of case study `case`'s pipeline."""
    return {**PIPELINE_LIMITS, **declared_limits(training_config(case))}
