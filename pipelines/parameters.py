"""`--set KEY=VALUE` overrides, checked against a pipeline's own parameters and their limits.

Done before any setup or network call, so a typo or a value out of range
fails in a second with the valid names or range, not after the emulator
started, a request went out or a model trained.
"""

from __future__ import annotations

import inspect
import json
import math
from collections.abc import Callable

from serving.contracts.limits import refuse, value_problems
from trainer.parameter_limits import (
    BATCH_PREDICTION_LIMITS,
    MONITORING_LIMITS,
    PIPELINE_LIMITS,
    case_problems,
    threshold_map_problems,
)

_TRUE, _FALSE = {"true", "1", "yes"}, {"false", "0", "no"}
_INT64 = (-(2**63), 2**63 - 1)  # what Vertex AI's protobuf NUMBER_INTEGER parameters hold
_EXAMPLES = {bool: "true", int: "3", float: "0.5", str: "text", dict: '{"0": 100}', list: "[1, 2]"}


def pipeline_parameters(pipeline: Callable) -> dict[str, type]:
    """Parameter name -> Python type of a @dsl.pipeline function."""
    func = getattr(pipeline, "pipeline_func", pipeline)
    return {name: p.annotation for name, p in inspect.signature(func).parameters.items()}


def parameter_default(pipeline: Callable, name: str) -> object:
    """The default value of a @dsl.pipeline function's parameter `name`."""
    func = getattr(pipeline, "pipeline_func", pipeline)
    return inspect.signature(func).parameters[name].default


def pipeline_defaults(pipeline: Callable) -> dict[str, object]:
    """Parameter name -> default value of a @dsl.pipeline function (those that have one)."""
    func = getattr(pipeline, "pipeline_func", pipeline)
    parameters = inspect.signature(func).parameters.values()
    return {p.name: p.default for p in parameters if p.default is not inspect.Parameter.empty}


def parse_overrides(pairs: list[str], types: dict[str, type]) -> dict:
    """KEY=VALUE strings -> arguments typed like the parameters in `types` (name -> type)."""
    overrides = {}
    for pair in pairs:
        key, sep, text = pair.partition("=")
        if not sep or not key:
            raise SystemExit(f"--set {pair!r} is not KEY=VALUE, e.g. --set accuracy_threshold=0.9.")
        if key not in types:
            valid = ", ".join(sorted(types))
            raise SystemExit(f"--set {key}: the pipeline has no such parameter. Valid: {valid}.")
        overrides[key] = _convert(key, text, types[key])
    return overrides


def check_parameter_values(case: str | None, values: dict, defaults: dict) -> None:
    """InputError for pipeline arguments `values` outside their limits, as the steps would raise."""
    refuse(parameter_value_problems(case, values, defaults))


def parameter_value_problems(case: str | None, values: dict, defaults: dict) -> list[str]:
    """What is wrong with pipeline arguments `values` (over the pipeline's `defaults`).

    `case` None (a service pipeline's template, or one of no known case study): only the
    shared limits and the service pipelines' (monitoring, batch prediction).
    """
    if case is None:
        limits = {**PIPELINE_LIMITS, **MONITORING_LIMITS, **BATCH_PREDICTION_LIMITS}
        return value_problems(values, limits) + threshold_map_problems(values)
    return case_problems(case, {**defaults, **values})


def _convert(key: str, text: str, kind: type):
    try:
        if kind is bool:
            if text.lower() not in _TRUE | _FALSE:
                raise ValueError(text)
            return text.lower() in _TRUE
        if kind in (dict, list):
            value = json.loads(text)
            if not isinstance(value, kind):
                raise ValueError(text)
            if not _finite(value):
                raise SystemExit(
                    f"--set {key}={text!r}: holds NaN or an infinity, which a pipeline "
                    f"parameter cannot carry: use finite numbers, e.g. --set {key}="
                    f"{_EXAMPLES[kind]}."
                )
            return value
        value = kind(text)
        if kind is float and not math.isfinite(value):
            raise SystemExit(
                f"--set {key}={text!r}: expected a finite number, e.g. --set {key}=0.5."
            )
        if kind is int and not _INT64[0] <= value <= _INT64[1]:
            raise SystemExit(
                f"--set {key}={text!r}: out of range for a pipeline integer "
                f"({_INT64[0]} to {_INT64[1]})."
            )
        return value
    except ValueError:
        raise SystemExit(
            f"--set {key}={text!r}: expected {'an' if kind is int else 'a'} {kind.__name__}, "
            f"e.g. --set {key}={_EXAMPLES[kind]}."
        ) from None


def _finite(value: object) -> bool:
    """Whether every number in a JSON value is finite (json reads NaN, Infinity and 1e999)."""
    if isinstance(value, float):
        return math.isfinite(value)
    if isinstance(value, dict):
        return all(map(_finite, value.values()))
    if isinstance(value, list):
        return all(map(_finite, value))
    return True
