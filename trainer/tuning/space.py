"""A study's search space and metric, checked against the case study's config before any trial.

Each case declares its defaults once, `TUNING` in `trainer/<case>/tuning.py`; a pipeline's
`tuning_space` and `tuning_metric` replace them. A space maps config field names to
Vertex AI's parameter kinds, written as JSON (a pipeline parameter):

    {"learning_rate": {"min": 0.0001, "max": 0.01, "scale": "log"},   # DOUBLE (a float field)
     "hidden_units": {"min": 8, "max": 64},                           # INTEGER (an int field)
     "batch_size": {"values": [16, 32, 64]},                          # DISCRETE (numbers)
     "base_model": {"values": ["mobilenet_v2", "resnet50"]}}          # CATEGORICAL (text)

Every bound and value must lie within the field's declared limit, so that no trial
fails on a value the config refuses.
"""

from __future__ import annotations

import importlib
import numbers
import typing
from collections.abc import Mapping
from dataclasses import dataclass, field, fields

from serving.contracts.errors import InputError
from serving.contracts.limits import declared_limits, problems_message
from trainer.catalog import check_case_name
from trainer.distribution.options import DistributionOptions

GOALS = ("maximize", "minimize")
SCALES = ("linear", "log")
# Vertex AI's search algorithms (StudySpec.Algorithm); the local runner's samplers stand in.
ALGORITHMS = ("ALGORITHM_UNSPECIFIED", "RANDOM_SEARCH", "GRID_SEARCH")
_EXAMPLE = '{"learning_rate": {"min": 0.0001, "max": 0.01, "scale": "log"}}'


@dataclass(frozen=True)
class Parameter:
    """One searched config field: a range (low, high, scale) or a list of values."""

    name: str
    kind: type  # the field's type: int, float or str
    low: float | None = None
    high: float | None = None
    scale: str = "linear"
    values: tuple = ()


@dataclass(frozen=True)
class Tuning:
    """What a case study tunes by default, declared once in `trainer/<case>/tuning.py`."""

    metrics: Mapping[str, str]  # metric its training returns -> goal; the first is the default
    space: Mapping[str, dict]  # the default search space (as above)
    budget: Mapping[str, int] = field(default_factory=dict)  # field -> the most a trial trains
    # metric -> (field, least value) the training needs to report it (cv_mae_mean: cv_folds 2)
    needs: Mapping[str, tuple[str, int]] = field(default_factory=dict)


def case_tuning(case: str) -> Tuning:
    """The TUNING of case study `case` (no TensorFlow)."""
    return importlib.import_module(f"trainer.{check_case_name(case)}.tuning").TUNING


def check_metric(
    case: str, tuning: Tuning, metric: str, settings: Mapping[str, object]
) -> tuple[str, str]:
    """(metric, goal): `metric`, or the case's default when it is ""; InputError for a metric
    the case does not report, or will not with these training `settings`."""
    metric = metric or next(iter(tuning.metrics))
    if metric not in tuning.metrics:
        raise InputError(
            f"tuning_metric={metric!r} is not a metric the {case} training reports: use one of "
            f"{', '.join(tuning.metrics)}, or leave it empty for {next(iter(tuning.metrics))}."
        )
    if metric in tuning.needs:
        name, least = tuning.needs[metric]
        if settings.get(name, least) < least:
            others = [m for m in tuning.metrics if m != metric]
            raise InputError(
                f"tuning_metric={metric} needs {name} >= {least} (it is {settings[name]}): "
                f"set {name}, or tune on {' or '.join(others)}."
            )
    return metric, tuning.metrics[metric]


def search_space(config: type, space: Mapping[str, object]) -> dict[str, Parameter]:
    """The parameters of `space` (see above) for config dataclass `config`; InputError listing
    every entry that is not a field, not tunable, or outside the field's limit."""
    if not isinstance(space, Mapping) or not space:
        raise InputError(f"tuning_space must be a non-empty JSON object, e.g. {_EXAMPLE}.")
    hints = typing.get_type_hints(config)
    shared = {f.name for f in fields(DistributionOptions)}
    tunable = {
        f.name
        for f in fields(config)
        if f.name not in shared and hints[f.name] in (int, float, str)
    }
    limits = declared_limits(config)
    parameters, problems = {}, []
    for name, spec in space.items():
        if name not in tunable:
            problems.append(
                f"tuning_space names {name!r}, which is not a tunable field of {config.__name__}: "
                f"use some of {', '.join(sorted(tunable))}."
            )
            continue
        try:
            parameters[name] = _parameter(name, hints[name], spec)
        except ValueError as problem:
            problems.append(f"tuning_space[{name!r}] {problem}, e.g. {_EXAMPLE}.")
            continue
        limit = limits.get(name)
        points = parameters[name].values or (parameters[name].low, parameters[name].high)
        for point in points if limit else ():
            problem = limit.problem(name, point)
            if problem:
                problems.append(f"tuning_space[{name!r}] reaches outside the field: {problem}")
    if problems:
        raise InputError(problems_message(problems))
    return parameters


def trial_settings(settings: Mapping[str, object], tuning: Tuning) -> dict[str, object]:
    """A trial's training settings: `settings` with each budget field capped (fewer epochs)."""
    return {
        name: min(value, tuning.budget[name]) if name in tuning.budget else value
        for name, value in settings.items()
    }


def _parameter(name: str, kind: type, spec: object) -> Parameter:
    if not isinstance(spec, Mapping):
        raise ValueError("must be an object with min and max, or with values")
    if set(spec) - {"min", "max", "scale", "values"}:
        raise ValueError(f"has keys {sorted(set(spec) - {'min', 'max', 'scale', 'values'})}")
    if "values" in spec:
        values = spec["values"]
        if set(spec) != {"values"} or not isinstance(values, list) or not values:
            raise ValueError("takes values alone, a non-empty list")
        numeric = kind is not str
        if not all(_is_number(v) if numeric else isinstance(v, str) for v in values):
            raise ValueError(f"has values {values} that are not all {kind.__name__}s")
        if kind is int and not all(float(v).is_integer() for v in values):
            raise ValueError(f"has values {values} that are not all whole numbers")
        return Parameter(name, kind, values=tuple(sorted(set(values)) if numeric else values))
    if kind is str:
        raise ValueError("is a text field: give its values, a list of strings")
    low, high, scale = spec.get("min"), spec.get("max"), spec.get("scale", "linear")
    if not (_is_number(low) and _is_number(high)) or not low < high:
        raise ValueError(f"needs numbers min < max (got min={low!r}, max={high!r})")
    if kind is int and not (float(low).is_integer() and float(high).is_integer()):
        raise ValueError(f"is an integer field: min={low!r} and max={high!r} must be whole")
    if scale not in SCALES or (scale == "log" and low <= 0):
        raise ValueError(f"scale={scale!r} must be linear, or log with min > 0")
    return Parameter(name, kind, low=low, high=high, scale=scale)


def _is_number(value: object) -> bool:
    return isinstance(value, numbers.Real) and not isinstance(value, bool)


def tuning_problems(case: str, config: type, arguments: Mapping[str, object]) -> list[str]:
    """What is wrong with a run's tuning parameters (only checked when tuning_trials > 0)."""
    if not arguments.get("tuning_trials"):
        return []
    tuning = case_tuning(case)
    try:
        check_metric(case, tuning, str(arguments.get("tuning_metric", "")), arguments)
        parameters = search_space(config, arguments.get("tuning_space") or tuning.space)
    except InputError as problem:
        return [str(problem)]
    floats = [p.name for p in parameters.values() if p.kind is float and not p.values]
    if arguments.get("tuning_algorithm") == "GRID_SEARCH" and floats:
        return [grid_problem(floats)]
    return []


def grid_problem(floats: list[str]) -> str:
    """Why a grid search cannot search the decimal ranges `floats` (as Vertex AI refuses it)."""
    return (
        f"tuning_algorithm=GRID_SEARCH needs integer ranges or lists of values; "
        f"{', '.join(floats)} are ranges of decimals: give them values, or another algorithm."
    )
