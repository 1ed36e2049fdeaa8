"""`--set` values a pipeline parameter cannot hold are refused at once, by name.

Vertex AI carries parameters as protobuf values: NaN and infinity have no JSON
form there, and integers stop at int64, so each would end in a traceback deep in
the SDK, after set-up, without naming the parameter.
"""

import subprocess
import sys

import pytest

from pipelines.parameters import parse_overrides
from tests.conftest import REPO

TYPES = {"learning_rate": float, "epochs": int, "seed": int}


@pytest.mark.parametrize("text", ["nan", "NaN", "inf", "-inf", "Infinity", "1e999"])
def test_a_float_that_is_not_finite_is_refused_by_name(text):
    with pytest.raises(SystemExit, match=rf"--set learning_rate='{text}': expected a finite"):
        parse_overrides([f"learning_rate={text}"], TYPES)


@pytest.mark.parametrize("text", ["99999999999999999999", "-9223372036854775809"])
def test_an_integer_beyond_int64_is_refused_by_name(text):
    with pytest.raises(SystemExit, match=rf"--set epochs='{text}': out of range"):
        parse_overrides([f"epochs={text}"], TYPES)


@pytest.mark.parametrize(
    "text", ['{"0": NaN}', '{"0": Infinity}', '{"0": 1e999}', "[1, -Infinity]", '{"a": [NaN]}']
)
def test_a_dict_or_list_holding_nan_or_infinity_is_refused_by_name(text):
    kind = list if text.startswith("[") else dict
    with pytest.raises(SystemExit, match=r"--set split=.*holds NaN or an infinity"):
        parse_overrides([f"split={text}"], {"split": kind})


def test_the_limits_themselves_are_accepted():
    values = parse_overrides(["epochs=9223372036854775807", "learning_rate=1e300"], TYPES)
    assert values == {"epochs": 2**63 - 1, "learning_rate": 1e300}


@pytest.mark.parametrize("command", ["run", "emulate"])
def test_the_command_refuses_before_any_setup(command):
    done = subprocess.run(
        [sys.executable, "-m", "pipelines", command, "text", "--set", "learning_rate=nan"],
        cwd=REPO, capture_output=True, text=True, timeout=120, stdin=subprocess.DEVNULL,
    )  # fmt: skip
    assert done.returncode == 1
    assert done.stderr.strip() == (
        "--set learning_rate='nan': expected a finite number, e.g. --set learning_rate=0.5."
    )
