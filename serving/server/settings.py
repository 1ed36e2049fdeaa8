"""The server's numeric settings: each one's flag of `python -m serving` and valid range.

The command refuses a value out of range as it parses its flags, and ModelServer
and Batching check again (they can be built without the command), with the same
message. Without the ranges, `--poll-seconds inf` killed the registry watcher
(a wait that long overflows) and `-1` or `nan` made it spin.
"""

from __future__ import annotations

import argparse
import numbers
from dataclasses import dataclass

from serving.contracts.errors import InputError
from serving.contracts.limits import Limit


@dataclass(frozen=True)
class Setting:
    """A flag's valid values: those of `limit`, and `off` (a value that turns it off)."""

    flag: str
    limit: Limit
    whole: bool = False  # an integer, not any number
    off: float | None = None

    def problem(self, value: object) -> str | None:
        """Why `value` is not valid for the setting, or None when it is."""
        if value == self.off and not isinstance(value, bool):
            return None
        if (
            self.whole
            and isinstance(value, numbers.Real)
            and not isinstance(value, numbers.Integral)
        ):
            return f"{self.flag}={value!r} is not a whole number: it must be {self.describe()}."
        return self.limit.problem(self.flag, value)

    def check(self, value: object) -> None:
        """InputError naming the flag, `value` and the range, unless `value` is valid."""
        problem = self.problem(value)
        if problem:
            raise InputError(problem)

    def parse(self, text: str) -> float:
        """The flag's value from the command line (an argparse `type`): refused out of range."""
        try:
            value = int(text) if self.whole else float(text)
        except ValueError:
            kind = "a whole number" if self.whole else "a number"
            raise argparse.ArgumentTypeError(
                f"{self.flag}={text!r} is not {kind}: it must be {self.describe()}."
            ) from None
        problem = self.problem(value)
        if problem:
            raise argparse.ArgumentTypeError(problem)
        return value

    def describe(self) -> str:
        return self.limit.describe() + (f" ({self.limit.advice})" if self.limit.advice else "")


MAX_BATCH_SIZE = Setting(
    "--max-batch-size",
    Limit(1, 4096, advice="instances per model call; 1 turns batching off"),
    whole=True,
)
BATCH_TIMEOUT_MS = Setting(
    "--batch-timeout-ms",
    Limit(0, 10_000, advice="how long a request may wait for others to join its batch"),
)
MAX_BODY_BYTES = Setting(
    "--max-body-bytes",
    Limit(1, 2**30, advice="a request body is held in memory whole"),
    whole=True,
)
POLL_SECONDS = Setting(
    "--poll-seconds",
    Limit(0.01, 86_400, advice="or 0: never re-read the registry"),
    off=0,
)
DEFAULT_MAX_INSTANCES = 1024  # the server's default largest request (RequestLimits)
MAX_INSTANCES = Setting(
    "--max-instances",
    Limit(1, 1_000_000, advice="instances per request; larger requests get 413"),
    whole=True,
)
MAX_IMAGE_PIXELS = Setting(
    "--max-image-pixels",
    Limit(1, 2**31, advice="width x height an image's header may declare; larger ones get 400"),
    whole=True,
)
MAX_RESPONSE_BYTES = Setting(
    "--max-response-bytes",
    Limit(1024, 2**31, advice="larger answers get 413"),
    whole=True,
)
MAX_CONCURRENT_REQUESTS = Setting(
    "--max-concurrent-requests",
    Limit(1, 100_000, advice="predict requests in progress per worker; more get 429"),
    whole=True,
)
MAX_ENQUEUED_BATCHES = Setting(
    "--max-enqueued-batches",
    Limit(1, 100_000, advice="batches a model's queue holds; when full, requests get 429"),
    whole=True,
)
MAX_QUEUE_MS = Setting(
    "--max-queue-ms",
    Limit(1, 3_600_000, advice="the wait a model's queue may hold; a longer one refuses with 429"),
)
REQUEST_TIMEOUT_MS = Setting(
    "--request-timeout-ms",
    Limit(1, 3_600_000, advice="a request not answered by then gets 504 and uses no model"),
)
DRAIN_SECONDS = Setting(
    "--drain-seconds",
    Limit(0, 3600, advice="after SIGTERM, how long requests in flight may take to finish"),
)
WORKERS = Setting(
    "--workers",
    Limit(1, 256, advice="server processes, each with its own copy of the models"),
    whole=True,
)
ACCESS_LOG_SAMPLE = Setting(
    "--access-log-sample",
    Limit(0, 1, advice="share of requests written to the access log; errors always are"),
)
REQUEST_LOG_SAMPLE = Setting(
    "--request-log-sample",
    Limit(0, 1, advice="share of predict requests written to the --request-log sink"),
)
