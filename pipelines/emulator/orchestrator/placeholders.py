"""Vertex AI's placeholder semantics, as the compiled IR expects them to be filled.

A task's command and its parameter values hold `{{$...}}` placeholders; Vertex
AI fills them from the task's executor input and from the pipeline job. kfp's
local runner fills fewer, only in command strings and top-level string values,
and writes numbers as Python does. Here:

- every placeholder the IR uses is filled, or refused by name;
- placeholders nested inside list and struct parameter values are resolved:
  a value that is exactly one placeholder takes the type of what it refers to
  (an int stays an int), one inside a longer string is substituted as text;
- numbers and JSON are written as protojson writes them (`100`, not `100.0`);
- `.json_escape[N]` escapes a value N times so that it can sit inside a JSON
  string (GCPC embeds `{{$.json_escape[1]}}`, the executor input, in a custom
  job's payload). It and `{{$}}` are left as they are inside parameter values,
  which are part of the executor input itself, and filled in the command.
"""

from __future__ import annotations

import json
import math
import re
from collections.abc import Callable, Mapping
from decimal import Decimal
from typing import Any

_PLACEHOLDER = re.compile(r"\{\{\$(?P<inner>(?:\.[^{}]*)?)\}\}")
_ESCAPE = re.compile(r"(?:^|\.)json_escape\[(?P<level>\d+)\]$")
_NAME = r"\['(?P<name>[^']*)'\]"
_INPUT_PARAMETER = re.compile(rf"inputs\.parameters{_NAME}")
_OUTPUT_PARAMETER = re.compile(rf"outputs\.parameters{_NAME}\.output_file")
_ARTIFACT = re.compile(
    rf"(?P<side>inputs|outputs)\.artifacts{_NAME}\.(?P<field>uri|path|metadata)"
    r"(?:\['(?P<key>[^']*)'\])?"
)
_OUTPUT_FILE = {"outputs.output_file", "outputMetadataUri"}


def protojson(value: Any) -> str:
    """JSON as protojson writes a google.protobuf.Value: integral numbers without `.0`."""
    if value is None or isinstance(value, bool | str):
        return json.dumps(value, ensure_ascii=False)
    if isinstance(value, int | float):
        return _number(value)
    if isinstance(value, Mapping):
        items = (
            f"{json.dumps(str(k), ensure_ascii=False)}:{protojson(v)}" for k, v in value.items()
        )
        return "{" + ",".join(items) + "}"
    if isinstance(value, list | tuple):
        return "[" + ",".join(protojson(v) for v in value) + "]"
    raise TypeError(f"{type(value).__name__} is not a JSON value: {value!r}")


def _number(value: float) -> str:
    # Go's protojson: positional notation for 1e-6 <= |x| < 1e21, else exponent (1e-7, 1e+21).
    if isinstance(value, int):
        return str(value)
    if math.isnan(value):
        return '"NaN"'
    if math.isinf(value):
        return '"Infinity"' if value > 0 else '"-Infinity"'
    if value != 0 and not 1e-6 <= abs(value) < 1e21:
        text = repr(value)
        return re.sub(r"e-0(\d)$", r"e-\1", text)
    return format(Decimal(repr(value)).normalize(), "f")


def text(value: Any) -> str:
    """A value as Vertex writes it into a command: strings as they are, the rest as JSON."""
    return value if isinstance(value, str) else protojson(value)


class Resolver:
    """Fills placeholders from one task's executor input (kfp's dict form, camelCase).

    `constants` maps pipeline-level placeholder names (`pipeline_root`, ...) to
    values; `local_path` maps an artifact URI to the path a step opens.
    """

    def __init__(
        self,
        executor_input: Mapping[str, Any],
        constants: Mapping[str, str],
        local_path: Callable[[str], str],
    ):
        self._input = executor_input
        self._constants = constants
        self._local_path = local_path

    def command_text(self, element: str) -> str:
        """A command element with every placeholder substituted as text.

        Parameters first, then the executor input, so that a `{{$.json_escape[1]}}`
        that a parameter value brought in (a worker pool spec) is filled too.
        """
        with_parameters = _PLACEHOLDER.sub(self._parameter_text, element)
        return _PLACEHOLDER.sub(self._executor_input_text, with_parameters)

    def parameter_value(self, value: Any) -> Any:
        """A parameter value with the placeholders nested in it resolved."""
        if isinstance(value, list):
            return [self.parameter_value(v) for v in value]
        if isinstance(value, dict):
            return {self.parameter_value(k): self.parameter_value(v) for k, v in value.items()}
        if not isinstance(value, str):
            return value
        whole = _PLACEHOLDER.fullmatch(value)
        if whole and not _refers_to_executor_input(whole.group("inner")):
            return self._value(whole.group("inner"))
        return _PLACEHOLDER.sub(self._parameter_text, value)

    def _parameter_text(self, match: re.Match) -> str:
        inner = match.group("inner")
        return match.group(0) if _refers_to_executor_input(inner) else text(self._value(inner))

    def _executor_input_text(self, match: re.Match) -> str:
        inner = match.group("inner")
        return text(self._value(inner)) if _refers_to_executor_input(inner) else match.group(0)

    def _value(self, inner: str) -> Any:
        body = inner.removeprefix(".")
        escape = _ESCAPE.search(body)
        if escape is None:
            return self._lookup(body)
        escaped = text(self._lookup(body[: escape.start()]))
        for _ in range(int(escape.group("level"))):
            escaped = json.dumps(escaped, ensure_ascii=False)[1:-1]
        return escaped

    def _lookup(self, body: str) -> Any:
        if body == "":
            return self._input
        if body in self._constants:
            return self._constants[body]
        if body in _OUTPUT_FILE:
            return self._input["outputs"]["outputFile"]
        if match := _INPUT_PARAMETER.fullmatch(body):
            return self._input.get("inputs", {}).get("parameterValues", {}).get(match["name"])
        if match := _OUTPUT_PARAMETER.fullmatch(body):
            parameter = self._input.get("outputs", {}).get("parameters", {}).get(match["name"])
            return parameter and parameter["outputFile"]
        if match := _ARTIFACT.fullmatch(body):
            return self._artifact_field(match)
        raise ValueError(
            f"Placeholder {{{{$.{body}}}}} is not one Vertex AI Pipelines fills "
            f"(known: inputs, outputs, json_escape and {', '.join(sorted(self._constants))})."
        )

    def _artifact_field(self, match: re.Match) -> Any:
        artifacts = self._input.get(match["side"], {}).get("artifacts", {}).get(match["name"])
        if not artifacts or not artifacts.get("artifacts"):
            return None
        artifact = artifacts["artifacts"][0]
        if match["field"] == "uri":
            return artifact.get("uri", "")
        if match["field"] == "path":
            return self._local_path(artifact.get("uri", ""))
        metadata = artifact.get("metadata", {})
        return metadata if match["key"] is None else metadata.get(match["key"])


def _refers_to_executor_input(inner: str) -> bool:
    """`{{$}}` and anything json-escaped: they embed the executor input, filled in commands only."""
    body = inner.removeprefix(".")
    return body == "" or _ESCAPE.search(body) is not None
