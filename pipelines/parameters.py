"""`--set KEY=VALUE` overrides, checked against a pipeline's own parameters.

Done before any setup, so a typo fails in a second with the valid names,
not after the emulator started and the base was pretrained.
"""

from __future__ import annotations

import inspect
from collections.abc import Callable

_TRUE, _FALSE = {"true", "1", "yes"}, {"false", "0", "no"}


def pipeline_parameters(pipeline: Callable) -> dict[str, type]:
    """Parameter name -> Python type of a @dsl.pipeline function."""
    func = getattr(pipeline, "pipeline_func", pipeline)
    return {name: p.annotation for name, p in inspect.signature(func).parameters.items()}


def parse_overrides(pairs: list[str], pipeline: Callable) -> dict:
    """KEY=VALUE strings -> arguments typed like the pipeline's parameters."""
    types = pipeline_parameters(pipeline)
    overrides = {}
    for pair in pairs:
        key, sep, text = pair.partition("=")
        if not sep or not key:
            raise SystemExit(f"--set {pair!r} is not KEY=VALUE.")
        if key not in types:
            valid = ", ".join(sorted(types))
            raise SystemExit(f"--set {key}: the pipeline has no such parameter. Valid: {valid}.")
        overrides[key] = _convert(key, text, types[key])
    return overrides


def _convert(key: str, text: str, kind: type):
    try:
        if kind is bool:
            if text.lower() not in _TRUE | _FALSE:
                raise ValueError(text)
            return text.lower() in _TRUE
        return kind(text)
    except ValueError:
        raise SystemExit(f"--set {key}={text!r}: expected a {kind.__name__}.") from None
