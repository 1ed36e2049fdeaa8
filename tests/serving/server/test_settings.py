"""The server's numeric settings are checked by the library too, with the flag's message:
a ModelServer or Batching built without the command refuses what the command refuses."""

import math

import pytest

from serving.contracts.errors import InputError
from serving.server.deployments import Batching
from serving.server.model_server import ModelServer
from serving.server.settings import POLL_SECONDS


@pytest.mark.parametrize("poll_s", [math.inf, 1e300, -1, math.nan, 0.001, True])
def test_a_poll_interval_out_of_range_is_refused_before_the_watcher_starts(poll_s):
    server = ModelServer({})
    with pytest.raises(InputError) as refused:
        server.start(poll_s)
    message = str(refused.value)
    assert message.startswith(f"--poll-seconds={poll_s!r} is "), message
    assert "it must be from 0.01 to 86,400" in message
    assert server._threads == []  # nothing started


@pytest.mark.parametrize("poll_s", [0, 0.01, 2.0, 86_400])
def test_a_poll_interval_inside_the_range_or_0_is_valid(poll_s):
    assert POLL_SECONDS.problem(poll_s) is None


@pytest.mark.parametrize(
    ("size", "wait_s", "named"),
    [
        (0, 0.0, "--max-batch-size=0 is out of range"),
        (10**9, 0.0, "--max-batch-size=1000000000 is out of range"),
        (2.5, 0.0, "--max-batch-size=2.5 is not a whole number"),
        (8, math.inf, "--batch-timeout-ms=inf is out of range"),
        (8, math.nan, "--batch-timeout-ms=nan is out of range"),
        (8, -0.001, "--batch-timeout-ms=-1.0 is out of range"),
    ],
)
def test_batching_out_of_range_is_refused_by_the_flags_name(size, wait_s, named):
    with pytest.raises(InputError, match=f"^{named}: it must be "):
        Batching(size, wait_s)


@pytest.mark.parametrize("max_body_bytes", [0, -1, 2**40, 1.5])
def test_a_body_limit_out_of_range_is_refused(max_body_bytes):
    with pytest.raises(InputError, match=f"^--max-body-bytes={max_body_bytes!r} is "):
        ModelServer({}, max_body_bytes=max_body_bytes)
