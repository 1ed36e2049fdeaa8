"""Where each pipeline parameter's limit is declared, and the limits of those with no other home.

A training setting declares its limit with its field, and the ingest options theirs
beside it (`INGEST_LIMITS` and `check_ingest_options` in `trainer/<case>/config.py`);
the parameters here belong to every pipeline: where the model goes, the machines and
the quality gate. `case_limits(case)` gives every limit of a case study's pipeline
and `case_problems` applies them with the rules across parameters, as the commands
do before any step; the steps check the same when they start.
"""

from __future__ import annotations

import dataclasses
import importlib
import inspect
import re
from collections.abc import Callable, Mapping
from types import ModuleType

from serving.contracts.errors import InputError
from serving.contracts.limits import (
    MODEL_NAME,
    Limit,
    declared_limits,
    fraction,
    one_of,
    value_problems,
)
from serving.server.settings import DEFAULT_MAX_INSTANCES
from trainer.catalog import check_case_name
from trainer.distribution.options import DistributionOptions
from trainer.tuning.space import ALGORITHMS, tuning_problems

_MACHINE_TYPE = Limit(
    pattern=r"[a-z][a-z0-9]*-[a-z0-9-]+", pattern_words="a machine type, e.g. n1-standard-4"
)
# A service account email: a project's own, or the Compute Engine default one.
SERVICE_ACCOUNT = (
    r"[a-z0-9-]+@[a-z0-9-]+\.iam\.gserviceaccount\.com"
    r"|[0-9]+-compute@developer\.gserviceaccount\.com"
)
# An email address a notification or an alert goes to.
EMAIL = r"[^@\s,;\"']+@[A-Za-z0-9-]+(\.[A-Za-z0-9-]+)+"

PIPELINE_LIMITS: dict[str, Limit] = {
    # Where a blessed model goes (pipelines.targets.Deployment).
    "model_name": MODEL_NAME,
    "registry_uri": Limit(
        pattern=r"(?!gs://|/gcs/).*",
        pattern_words="a local directory, or empty for build/registry",
        advice="the local registry; Vertex AI runs use the Model Registry",
    ),
    "endpoint_name": Limit(
        pattern=r"[^\x00-\x1f]{1,128}", pattern_words="1 to 128 characters, no control ones"
    ),
    "endpoint_service_account": Limit(
        pattern=f"|{SERVICE_ACCOUNT}",
        pattern_words="empty or a service account email, e.g. "
        "vertex-endpoints@my-project.iam.gserviceaccount.com",
    ),
    "serving_machine_type": _MACHINE_TYPE,
    "serving_min_replica_count": Limit(1, 1000, advice="serving machines"),
    "serving_max_replica_count": Limit(1, 1000, advice="serving machines"),
    # The training machines (pipelines.targets.TrainingResources).
    "train_replica_count": Limit(1, 256, advice="1, or more for multi-worker training"),
    "train_accelerator_count": Limit(0, 16, advice="accelerators per training machine"),
    "train_machine_type": _MACHINE_TYPE,
    "train_accelerator_type": Limit(
        pattern=r"ACCELERATOR_TYPE_UNSPECIFIED|NVIDIA_[A-Z0-9_]+|TPU_V[0-9A-Z_]+",
        pattern_words="ACCELERATOR_TYPE_UNSPECIFIED or an accelerator, e.g. NVIDIA_TESLA_T4",
    ),
    # The quality gate (evaluation).
    "accuracy_threshold": fraction(advice="the test accuracy a model needs, e.g. 0.8"),
    "regression_tolerance": fraction(high_open=True, advice="a share of the champion's score"),
    "baseline_margin": fraction(high_open=True, advice="a share of the baseline's MAE"),
    "season_length": Limit(0, 10**6, advice="steps per season; 0: from the data's frequency"),
    # Data validation (trainer.data_validation.validation).
    "drift_action": one_of("warn", "fail", advice="what drift over a threshold does to the run"),
    "drift_threshold": fraction(advice="Vertex AI Model Monitoring's default is 0.3; 0: off"),
    # Vertex AI Model Monitoring of the endpoint (trainer.vertex_monitoring, Vertex AI only).
    "monitoring_sample_rate": fraction(low_open=True, advice="the share of requests analysed"),
    "monitoring_interval_hours": Limit(1, 24 * 7, advice="hours between monitoring runs"),
    # Hyperparameter tuning before training (trainer.tuning; the space and metric are checked
    # against the case's own TUNING and config by case_problems).
    "tuning_trials": Limit(0, 1000, advice="trials of the study; 0: no tuning"),
    "tuning_parallel_trials": Limit(1, 100, advice="trials run at once"),
    "tuning_algorithm": one_of(*ALGORITHMS),
}

# The monitoring pipeline's own (pipelines/monitoring; trainer.data_validation.monitoring):
# its drift_threshold is PIPELINE_LIMITS'.
MONITORING_LIMITS: dict[str, Limit] = {
    "window_hours": Limit(0, 24 * 366, low_open=True, advice="hours of traffic compared"),
    "skew_threshold": fraction(advice="Vertex AI Model Monitoring's default is 0.3; 0: off"),
    "min_instances": Limit(1, 10**9, advice="fewer in the window: nothing is compared"),
}


# Per-feature thresholds: {"<feature>": a number from 0 (unwatched) to 1}.
THRESHOLD_MAPS = ("drift_thresholds", "feature_thresholds")


def threshold_map_problems(arguments: Mapping[str, object]) -> list[str]:
    """What is wrong with the per-feature threshold maps among `arguments` (THRESHOLD_MAPS);
    which features exist is only known to the step that reads the data."""
    problems = []
    for name in (n for n in THRESHOLD_MAPS if n in arguments):
        value = arguments[name]
        if not isinstance(value, Mapping):
            problems.append(
                f'{name}={value!r} is not an object of feature: threshold, e.g. {{"x": 0.2}}.'
            )
            continue
        bad = {
            k: v
            for k, v in value.items()
            if isinstance(v, bool) or not isinstance(v, int | float) or not 0 <= v <= 1
        }
        if bad:
            problems.append(
                f"{name} has {bad}: each threshold is a number from 0 (unwatched) to 1."
            )
    return problems


# The batch prediction pipeline's own (pipelines/batch_prediction; trainer.batch_prediction).
BATCH_PREDICTION_LIMITS: dict[str, Limit] = {
    "instances_format": one_of("", "jsonl", "csv", "file-list", "bigquery"),
    "batch_size": Limit(
        1, DEFAULT_MAX_INSTANCES, advice="instances per model call; the server's largest request"
    ),
    "machine_type": _MACHINE_TYPE,
    "starting_replica_count": Limit(1, 1000, advice="batch prediction machines"),
    "max_replica_count": Limit(1, 1000, advice="batch prediction machines"),
}


def email_list_problem(name: str, value: object, most: int | None = None) -> str | None:
    """Why `value` is not a list of email addresses (at most `most`) for `name`, or None."""
    example = f'{name}=["ml-team@example.com"]'
    if not isinstance(value, list | tuple) or not all(isinstance(v, str) for v in value):
        return f"{name}={value!r} is not a list of email addresses, e.g. {example}."
    bad = [v for v in value if not re.fullmatch(EMAIL, v)]
    if bad:
        return f"{name} has {bad}, which are not email addresses, e.g. {example}."
    if most is not None and len(value) > most:
        return f"{name} has {len(value)} addresses; Vertex AI mails at most {most}."
    return None


def training_config(case: str) -> type:
    """The training config dataclass of case study `case` (without importing TensorFlow)."""
    module = _config_module(case)
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
    ingest = getattr(_config_module(case), "INGEST_LIMITS", {})
    return {**PIPELINE_LIMITS, **ingest, **declared_limits(training_config(case))}


def case_problems(case: str, arguments: Mapping[str, object]) -> list[str]:
    """What is wrong with a run's `arguments` (every parameter's value, defaults included).

    Each value against its limit; then, if all are within, the rules across
    parameters: the ingest options' (`check_ingest_options`) and the training
    config's (`config.check()`, e.g. a batch's memory estimate), as the steps apply them.
    """
    problems = value_problems(arguments, case_limits(case)) + threshold_map_problems(arguments)
    if problems:
        return problems
    problems = tuning_problems(case, training_config(case), arguments)
    if problems:
        return problems
    module = _config_module(case)
    config = training_config(case)
    try:
        if hasattr(module, "check_ingest_options"):
            module.check_ingest_options(**_picked(module.check_ingest_options, arguments))
        config(**_picked(config, arguments)).check()
    except InputError as exc:
        return [str(exc)]
    return []


def _picked(function: Callable, arguments: Mapping[str, object]) -> dict[str, object]:
    """The arguments among `arguments` that `function` (or a dataclass) takes, by name."""
    names = inspect.signature(function).parameters
    return {name: value for name, value in arguments.items() if name in names}


def _config_module(case: str) -> ModuleType:
    return importlib.import_module(f"trainer.{check_case_name(case)}.config")
