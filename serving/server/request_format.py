"""Prediction requests and responses in the Vertex AI and TF Serving REST JSON formats.

Row format (Vertex AI and TF Serving): `{"instances": [i0, i1, ...], "parameters": {...}}`;
each instance is the input's value, or `{"<input name>": value}`. Columnar
format (TF Serving only): `{"inputs": [v0, v1, ...]}` or `{"inputs": {"<input name>": [...]}}`.
Binary values (encoded images) are `{"b64": "<base64>"}`. Responses carry
`predictions` (one per instance) or, for columnar requests, `outputs` (one
list per output). Every problem is a `RequestError` with the HTTP status and
a message that names the instance and what was expected.
"""

from __future__ import annotations

import base64
import binascii
import json
import math
from dataclasses import dataclass

import numpy as np

from serving.server.loaded_model import InputSpec


class RequestError(Exception):
    """A request that cannot be answered: `status` is the HTTP status, the message says why."""

    def __init__(self, status: int, message: str) -> None:
        super().__init__(message)
        self.status = status


@dataclass(frozen=True)
class PredictRequest:
    batch: np.ndarray  # the instances, stacked on the first axis
    columnar: bool  # sent as "inputs": answer with "outputs"


def parse_json(body: bytes) -> dict:
    """The request body as a JSON object, or a 400 naming the problem."""
    try:
        payload = json.loads(body, parse_constant=_no_constant)
    except (UnicodeDecodeError, ValueError) as exc:
        raise RequestError(400, f"The request body is not valid JSON: {exc}.") from None
    if not isinstance(payload, dict):
        raise RequestError(
            400, f"The request body must be a JSON object, got {type(payload).__name__}."
        )
    return payload


def _no_constant(name: str) -> None:
    """NaN, Infinity and -Infinity are not JSON (RFC 8259), though Python's parser takes them."""
    raise ValueError(f"{name} is not a JSON value (send null for a missing number)")


def parse_predict(payload: dict, spec: InputSpec, columnar_allowed: bool) -> PredictRequest:
    """The batch a predict request asks for, checked against the model's input `spec`."""
    if "instances" in payload and "inputs" in payload:
        raise RequestError(400, "The request has both 'instances' and 'inputs': send one.")
    if "inputs" in payload and columnar_allowed:
        values = payload["inputs"]
        if isinstance(values, dict):
            values = _named(values, spec, "'inputs'")
        columnar = True
    elif "instances" in payload:
        values = payload["instances"]
        if not isinstance(values, list):
            raise RequestError(400, f"'instances' must be a list, got {type(values).__name__}.")
        values = [
            _named(v, spec, f"instance {i}") if isinstance(v, dict) and "b64" not in v else v
            for i, v in enumerate(values)
        ]
        columnar = False
    else:
        formats = "'instances'" + (" or 'inputs' (columnar)" if columnar_allowed else "")
        raise RequestError(
            400, f'The request has no {formats}: send {{"instances": [...]}} ({spec.describe()}).'
        )
    if not isinstance(values, list) or not values:
        raise RequestError(
            400, f"No instances to predict: send a non-empty list ({spec.describe()})."
        )
    return PredictRequest(_batch(values, spec), columnar)


def predictions(outputs: dict[str, np.ndarray]) -> list:
    """One prediction per instance: the value of a single output, else {output: value}."""
    count = len(next(iter(outputs.values())))
    if len(outputs) == 1:
        return [_plain(v) for v in next(iter(outputs.values())).tolist()]
    lists = {name: value.tolist() for name, value in outputs.items()}
    return [{name: _plain(values[i]) for name, values in lists.items()} for i in range(count)]


def columns(outputs: dict[str, np.ndarray]) -> object:
    """TF Serving's columnar `outputs`: the single output's list, else {output: list}."""
    if len(outputs) == 1:
        return _plain(next(iter(outputs.values())).tolist())
    return {name: _plain(value.tolist()) for name, value in outputs.items()}


def _named(instance: dict, spec: InputSpec, where: str) -> object:
    if set(instance) != {spec.name}:
        raise RequestError(
            400,
            f"{where} has keys {sorted(instance)}; this model takes one input, {spec.describe()}.",
        )
    return instance[spec.name]


def _batch(values: list, spec: InputSpec) -> np.ndarray:
    if spec.is_string:
        return np.array([_string(v, i, spec) for i, v in enumerate(values)], dtype=object)
    rows = [_numbers(v, i, spec) for i, v in enumerate(values)]
    try:
        return np.stack(rows)
    except ValueError:  # a dimension the model leaves open differs between instances
        shapes = sorted({_dims(list(r.shape)) for r in rows})
        raise RequestError(
            400, f"The instances have different shapes ({', '.join(shapes)}): send one shape."
        ) from None


def _string(value: object, index: int, spec: InputSpec) -> bytes:
    if isinstance(value, str):
        return value.encode("utf-8")
    if isinstance(value, dict) and set(value) == {"b64"} and isinstance(value["b64"], str):
        try:
            return base64.b64decode(value["b64"], validate=True)
        except (binascii.Error, ValueError):
            raise RequestError(
                400, f"instance {index}: 'b64' is not valid base64 ({spec.name})."
            ) from None
    raise RequestError(
        400,
        f'instance {index}: expected a string or {{"b64": "..."}} for {spec.name}, '
        f"got {_kind(value)}.",
    )


def _numbers(value: object, index: int, spec: InputSpec) -> np.ndarray:
    expected = list(spec.shape[1:])
    problem = _non_number(value)
    array = None
    if not problem:
        try:
            with np.errstate(over="ignore"):  # an overflow is refused below, not warned about
                array = np.asarray(value, dtype=spec.dtype.as_numpy_dtype)
        except OverflowError:
            problem = f"a value beyond the range of {spec.dtype.name}"
        except (TypeError, ValueError):
            problem = "a ragged list"
    if array is not None and not problem and np.isinf(array).any():
        problem = f"a value beyond the range of {spec.dtype.name}"
    if problem:
        raise RequestError(
            400,
            f"instance {index}: expected numbers (or null) of shape {_dims(expected)} for "
            f"{spec.name}, got {problem}: {json.dumps(value)[:80]}.",
        )
    if array.ndim != len(expected) or any(
        want is not None and got != want for got, want in zip(array.shape, expected, strict=True)
    ):
        raise RequestError(
            400,
            f"instance {index}: shape {_dims(list(array.shape))} does not fit {spec.name}, which "
            f"takes {_dims(expected)} per instance.",
        )
    return array


def _non_number(value: object) -> str:
    """What in `value` is not a number, a null or a list of them ("" when all are)."""
    if isinstance(value, list):
        return next((p for p in map(_non_number, value) if p), "")
    if value is None or (isinstance(value, int | float) and not isinstance(value, bool)):
        return ""
    return _kind(value)


def _dims(dims: list) -> str:
    return "[" + ", ".join("any" if d is None else str(d) for d in dims) + "]"


def _kind(value: object) -> str:
    return "null" if value is None else type(value).__name__


def _plain(value: object) -> object:
    """JSON-ready: bytes as text (or {"b64"} when not UTF-8), non-finite floats as null."""
    if isinstance(value, bytes):
        try:
            return value.decode("utf-8")
        except UnicodeDecodeError:
            return {"b64": base64.b64encode(value).decode("ascii")}
    if isinstance(value, list):
        return [_plain(v) for v in value]
    if isinstance(value, float) and not math.isfinite(value):
        return None
    return value
