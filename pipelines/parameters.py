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
from dataclasses import fields

from serving.contracts.errors import InputError
from serving.contracts.limits import refuse, value_problems
from trainer.parameter_limits import PIPELINE_LIMITS, case_limits, training_config

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


def check_parameter_values(case: str | None, values: dict) -> None:
    """InputError for pipeline arguments `values` outside their limits, as the steps would raise."""
    refuse(parameter_value_problems(case, values))


def parameter_value_problems(case: str | None, values: dict) -> list[str]:
    """What is wrong with pipeline arguments `values`, as the steps would find it.

    Every value is checked against its declared limit, then, if all are within,
    the training settings among them (over the config's defaults) as the training
    step checks them, so that the rules across settings (e.g. a batch's memory)
    are met before any step. `case` None (a template of no known case study):
    only the shared limits.
    """
    if case is None:
        return value_problems(values, PIPELINE_LIMITS)
    problems = value_problems(values, case_limits(case))
    if problems:
        return problems
    config = training_config(case)
    names = {field.name for field in fields(config)}
    try:
        config(**{name: value for name, value in values.items() if name in names}).check()
    except InputError as exc:
        return [str(exc)]
    return []


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
