"""How the registry watcher fares for one model: the problem now, and counters of its polls.

Every poll re-reads the registry; a poll that cannot use it (a corrupt or unreadable
file, a champion whose directory is gone, a version that will not load) leaves the
last good versions serving. The problem is logged when it appears or changes, not at
every poll, and once more when the registry is usable again. The problem and the
counters (polls made, polls that could not use the registry) are kept in this process:
/health's "problems" shows the problem, and /v1/models/<name> shows `snapshot()` as
"registry_watch" while it lasts. Each poll is also counted in the Prometheus metrics
serving_registry_polls_total and serving_registry_failed_polls_total (metrics.py).
"""

from __future__ import annotations

import datetime as dt
import logging
import threading

from serving.server import metrics

log = logging.getLogger(__name__)

MAX_PROBLEM_CHARS = 1000


class RegistryWatch:
    """One model's registry watcher state; updated by the loader thread, read by requests."""

    def __init__(self, model_name: str) -> None:
        self.model_name = model_name
        self.problem = ""  # why the last poll could not use the registry; "" when it could
        self.since = ""  # when the current problem began (ISO 8601, UTC)
        self.polls = 0
        self.failed_polls = 0
        self._lock = threading.Lock()

    def succeeded(self) -> None:
        with self._lock:
            self.polls += 1
            if self.problem:
                log.info(
                    "%s: the registry is usable again (was: %s)", self.model_name, self.problem
                )
            self.problem, self.since = "", ""
        metrics.registry_polled(self.model_name, ok=True)

    def failed(self, problem: str, serving: str) -> None:
        """Record a failed poll; `serving` says what keeps serving (logged with a new problem)."""
        problem = one_line(problem)
        metrics.registry_polled(self.model_name, ok=False)
        with self._lock:
            self.polls += 1
            self.failed_polls += 1
            if problem == self.problem:
                log.debug("%s: still %s", self.model_name, problem)
                return
            self.problem = problem
            self.since = dt.datetime.now(dt.UTC).isoformat(timespec="seconds")
        log.error(
            "%s: %s (%s; logged again only when this changes or is fixed)",
            self.model_name,
            problem,
            serving,
        )

    def snapshot(self) -> dict:
        """The watcher's state as status routes report it."""
        with self._lock:
            return {
                "problem": self.problem,
                "since": self.since,
                "polls": self.polls,
                "failed_polls": self.failed_polls,
            }


def one_line(text: str) -> str:
    """The first non-empty line of an error message, cut to MAX_PROBLEM_CHARS."""
    line = next((part.strip() for part in text.splitlines() if part.strip()), "unknown error")
    return line if len(line) <= MAX_PROBLEM_CHARS else line[: MAX_PROBLEM_CHARS - 3] + "..."
