"""Logging, set up once by every entry point: plain lines on a terminal, JSON on Vertex AI.

Cloud Logging reads a JSON line that a Vertex AI container writes to stdout or
stderr as a structured entry: `severity` is the entry's level, `message` its
text, `time` its timestamp, and `logging.googleapis.com/sourceLocation` where
it was logged. Vertex AI marks its training replicas and pipeline steps with
CLOUD_ML_JOB_ID and its prediction containers with AIP_DEPLOYED_MODEL_ID; there
the lines are JSON. LOG_FORMAT=json or LOG_FORMAT=plain overrides the choice.
"""

from __future__ import annotations

import datetime as dt
import json
import logging
import os
from collections.abc import Mapping

LOG_FORMAT_VARIABLE = "LOG_FORMAT"
FORMATS = ("json", "plain")
VERTEX_VARIABLES = ("CLOUD_ML_JOB_ID", "AIP_DEPLOYED_MODEL_ID")
PLAIN_FORMAT = "%(levelname)s %(name)s: %(message)s"
PLAIN_FORMAT_WITH_TIME = "%(asctime)s " + PLAIN_FORMAT


class CloudLoggingFormatter(logging.Formatter):
    """One JSON object a line, with the fields Cloud Logging's structured logging reads."""

    def format(self, record: logging.LogRecord) -> str:
        message = record.getMessage()
        if record.exc_info:
            message = f"{message}\n{self.formatException(record.exc_info)}"
        entry = {
            "severity": record.levelname,
            "message": message,
            "time": dt.datetime.fromtimestamp(record.created, dt.UTC).isoformat(),
            "logger": record.name,
            "logging.googleapis.com/sourceLocation": {
                "file": record.pathname,
                "line": str(record.lineno),
                "function": record.funcName,
            },
        }
        return json.dumps(entry, ensure_ascii=False)


def log_format(env: Mapping[str, str] = os.environ) -> str:
    """ "json" or "plain": LOG_FORMAT if set, else json on Vertex AI, plain elsewhere."""
    chosen = env.get(LOG_FORMAT_VARIABLE, "").strip().lower()
    if chosen:
        if chosen not in FORMATS:
            raise SystemExit(
                f"{LOG_FORMAT_VARIABLE}={chosen!r} is not one of {', '.join(FORMATS)}: "
                f"unset it, or set {LOG_FORMAT_VARIABLE}=plain or json."
            )
        return chosen
    return "json" if any(env.get(name) for name in VERTEX_VARIABLES) else "plain"


def setup_logging(level: int = logging.INFO, timestamps: bool = False) -> None:
    """Send the root logger's records to stderr in this environment's format.

    A plain StreamHandler already on the root logger is replaced: that is what
    logging.basicConfig leaves, as kfp's executor does before it runs a
    component. Any other handler (a test runner's, an embedding application's)
    means someone else owns logging, and the root logger is left as it is.
    """
    root = logging.getLogger()
    if any(type(handler) is not logging.StreamHandler for handler in root.handlers):
        return
    for handler in list(root.handlers):
        root.removeHandler(handler)
    handler = logging.StreamHandler()
    if log_format() == "json":
        handler.setFormatter(CloudLoggingFormatter())
    else:
        plain = PLAIN_FORMAT_WITH_TIME if timestamps else PLAIN_FORMAT
        handler.setFormatter(logging.Formatter(plain))
    root.addHandler(handler)
    root.setLevel(level)
