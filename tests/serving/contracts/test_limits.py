"""Limit: a parameter's valid values, and the one message that names what is wrong."""

import math
from dataclasses import dataclass
from typing import Annotated

import pytest

from serving.contracts.errors import InputError
from serving.contracts.limits import (
    MODEL_NAME,
    SEED,
    Limit,
    check_fields,
    check_values,
    declared_limits,
    fraction,
    one_of,
)


@pytest.mark.parametrize(
    ("limit", "inside", "outside"),
    [
        (Limit(1, 10), [1, 5, 10, 1.0], [0, 11, -1, 10.5]),
        (fraction(high_open=True), [0, 0.5, 0.999], [1, 1.0, -0.01]),
        (fraction(low_open=True), [1e-9, 1], [0, 0.0, 1.5]),
        (Limit(0), [0, 10**30], [-1]),
        (SEED, [0, 2**32 - 1], [-1, 2**32]),
    ],
)
def test_numbers_inside_pass_and_outside_are_named(limit, inside, outside):
    for value in inside:
        assert limit.problem("x", value) is None, value
    for value in outside:
        problem = limit.problem("x", value)
        assert problem.startswith(f"x={value!r} is out of range: it must be "), problem


@pytest.mark.parametrize("value", [math.nan, math.inf, -math.inf, 10**400, -(10**400)])
def test_not_finite_or_huge_numbers_are_out_of_range(value):
    assert "out of range" in Limit(0, 2**64).problem("rate", value)


def test_numpy_numbers_are_numbers():
    import numpy as np

    assert Limit(1, 10).problem("window", np.int64(5)) is None
    assert "out of range" in Limit(1, 10).problem("window", np.float32(11))


@pytest.mark.parametrize("value", ["3", None, True, [1]])
def test_what_is_not_a_number_is_refused_as_such(value):
    assert Limit(0, 5).problem("epochs", value) == (
        f"epochs={value!r} is not a number: it must be from 0 to 5."
    )


@pytest.mark.parametrize(
    ("limit", "words"),
    [
        (Limit(1, 1_000_000), "from 1 to 1,000,000"),
        (fraction(high_open=True), "at least 0 and below 1"),
        (fraction(low_open=True), "above 0 and at most 1"),
        (Limit(0.5), "at least 0.5"),
        (Limit(high=2), "at most 2"),
    ],
)
def test_the_range_reads_as_words(limit, words):
    assert limit.describe() == words


@pytest.mark.parametrize("name", ["../x", "", "a/b", "é", "a b", "x" * 129, "v1\n", 7])
def test_model_names_must_be_plain_directory_names(name):
    with pytest.raises(
        InputError, match=r"model_name=.* is not allowed: it must be 1 to 128 ASCII"
    ):
        MODEL_NAME.check("model_name", name)


def test_a_valid_model_name_passes():
    MODEL_NAME.check("model_name", "flowers_v2-b")


@dataclass(frozen=True)
class Settings:
    epochs: Annotated[int, Limit(1, 100, advice="passes over the data")] = 10
    rate: Annotated[float, fraction(low_open=True)] = 0.1
    name: str = "free text"  # no limit declared


def test_limits_are_read_from_the_declaration():
    assert declared_limits(Settings) == {
        "epochs": Limit(1, 100, advice="passes over the data"),
        "rate": fraction(low_open=True),
    }


def test_one_field_out_of_range_is_one_line_with_the_advice():
    with pytest.raises(InputError) as caught:
        check_fields(Settings(epochs=0))
    assert str(caught.value) == (
        "epochs=0 is out of range: it must be from 1 to 100 (passes over the data)."
    )


def test_every_value_out_of_range_is_listed_at_once():
    with pytest.raises(InputError) as caught:
        check_values({"epochs": 101, "rate": 0, "name": "x"}, declared_limits(Settings))
    lines = str(caught.value).splitlines()
    assert lines[0] == "Parameters need fixing:"
    assert [line.split("=")[0] for line in lines[1:]] == ["  - epochs", "  - rate"]


def test_values_inside_their_limits_pass():
    check_fields(Settings())
    check_values({"epochs": 100, "rate": 1.0, "unlimited": -5}, declared_limits(Settings))


def test_a_choice_outside_the_choices_names_them_all():
    limit = one_of("linear", "sqrt", "none", advice="how the rate grows")
    assert limit.problem("scaling", "sqrt") is None
    assert limit.problem("scaling", "cube") == (
        "scaling='cube' is not allowed: it must be one of linear, sqrt, none (how the rate grows)."
    )
    assert limit.problem("scaling", None).startswith("scaling=None is not allowed")
