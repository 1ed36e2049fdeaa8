"""A parameter's valid values, declared once with the parameter and checked everywhere.

A training setting declares its limit with its field, `Annotated[int, Limit(...)]`
in its config dataclass; the other pipeline parameters declare theirs in
`trainer.parameter_limits`. The commands check every value before any step
runs, and the steps check again when they start (a run may have been started
by other means, e.g. from the Vertex AI console), with the same message.
"""

from __future__ import annotations

import math
import numbers
import re
import typing
from collections.abc import Mapping
from dataclasses import dataclass

from serving.contracts.errors import InputError


@dataclass(frozen=True)
class Limit:
    """Numbers from `low` to `high` (ends included unless open), text matching `pattern`, or
    one of `choices`."""

    low: float | None = None
    high: float | None = None
    low_open: bool = False
    high_open: bool = False
    pattern: str = ""  # a full match, for text
    pattern_words: str = ""  # `pattern` for a person, e.g. "ASCII letters, digits, '-' or '_'"
    choices: tuple[str, ...] = ()
    advice: str = ""  # why the bound is there, or what to do instead

    def problem(self, name: str, value: object) -> str | None:
        """Why `value` is not valid for parameter `name`, or None when it is."""
        if self.choices:
            if value in self.choices:
                return None
            return self._message(name, value, "not allowed", f"one of {', '.join(self.choices)}")
        if self.pattern:
            if isinstance(value, str) and re.fullmatch(self.pattern, value):
                return None
            return self._message(name, value, "not allowed", self.pattern_words)
        if isinstance(value, bool) or not isinstance(value, numbers.Real):
            return f"{name}={value!r} is not a number: it must be {self.describe()}."
        # an int of any size is finite (math.isfinite would overflow on one above 1e308)
        finite = isinstance(value, numbers.Integral) or math.isfinite(value)
        if finite and self._within(value):
            return None
        return self._message(name, value, "out of range", self.describe())

    def check(self, name: str, value: object) -> None:
        """InputError naming `name`, `value` and the valid range, unless `value` is valid."""
        problem = self.problem(name, value)
        if problem:
            raise InputError(problem)

    def describe(self) -> str:
        """The valid range in words, e.g. 'from 1 to 512' or 'at least 0 and below 1'."""
        parts = []
        if self.low is not None:
            parts.append(f"{'above' if self.low_open else 'at least'} {_number(self.low)}")
        if self.high is not None:
            parts.append(f"{'below' if self.high_open else 'at most'} {_number(self.high)}")
        if len(parts) == 2 and not (self.low_open or self.high_open):
            return f"from {_number(self.low)} to {_number(self.high)}"
        return " and ".join(parts) or "any number"

    def _within(self, value: float) -> bool:
        above_low = self.low is None or (value > self.low if self.low_open else value >= self.low)
        below_high = self.high is None or (
            value < self.high if self.high_open else value <= self.high
        )
        return above_low and below_high

    def _message(self, name: str, value: object, what: str, valid: str) -> str:
        advice = f" ({self.advice})" if self.advice else ""
        return f"{name}={value!r} is {what}: it must be {valid}{advice}."


def _number(value: float) -> str:
    """1000000 as 1,000,000 and 0.5 as 0.5."""
    return f"{int(value):,}" if float(value).is_integer() else f"{value:g}"


def one_of(*choices: str, advice: str = "") -> Limit:
    """One of `choices`, e.g. the modes of a setting."""
    return Limit(choices=choices, advice=advice)


def fraction(*, low_open: bool = False, high_open: bool = False, advice: str = "") -> Limit:
    """A share from 0 to 1."""
    return Limit(0, 1, low_open=low_open, high_open=high_open, advice=advice)


# Random seeds: what NumPy's and Keras' seeding accepts.
SEED = Limit(0, 2**32 - 1)
# Model names name a directory of the local registry and a Vertex AI display name.
MODEL_NAME = Limit(
    pattern=r"[A-Za-z0-9_-]{1,128}",
    pattern_words="1 to 128 ASCII letters, digits, '-' or '_', e.g. model_name=vision",
    advice="it names a directory of the registry",
)


def declared_limits(declaration: object) -> dict[str, Limit]:
    """Name -> Limit of a dataclass's fields (or a function's parameters) declared with one."""
    hints = typing.get_type_hints(declaration, include_extras=True)
    return {
        name: limit
        for name, hint in hints.items()
        for limit in getattr(hint, "__metadata__", ())
        if isinstance(limit, Limit)
    }


def value_problems(values: Mapping[str, object], limits: Mapping[str, Limit]) -> list[str]:
    """What is wrong with each of `values` that has a limit, by parameter name."""
    problems = [
        limits[name].problem(name, values[name]) for name in sorted(values) if name in limits
    ]
    return [problem for problem in problems if problem]


def check_values(values: Mapping[str, object], limits: Mapping[str, Limit]) -> None:
    """InputError listing every value of `values` outside its limit."""
    refuse(value_problems(values, limits))


def refuse(problems: list[str]) -> None:
    """InputError with `problems` (problems_message), if there are any."""
    if problems:
        raise InputError(problems_message(problems))


def problems_message(problems: list[str]) -> str:
    """One problem as it is; several as a list under one heading, every command alike."""
    if len(problems) == 1:
        return problems[0]
    return "Parameters need fixing:\n  - " + "\n  - ".join(problems)


def check_fields(config: object) -> None:
    """InputError listing every field of dataclass instance `config` outside its limit."""
    limits = declared_limits(type(config))
    check_values({name: getattr(config, name) for name in limits}, limits)
