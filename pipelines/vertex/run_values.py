"""Checks of a Vertex AI run's parameter values beyond their types, before anything is sent.

Vertex AI would reject these only minutes into a run (or, for a local
source path, the ingest step would fail on a path that does not exist there).
"""

from __future__ import annotations

from collections.abc import Sequence

from serving.contracts.limits import problems_message
from trainer.parameter_limits import email_list_problem

NO_ACCELERATOR = "ACCELERATOR_TYPE_UNSPECIFIED"


def check_run_values(values: dict, defaults: dict, problems: Sequence[str] = ()) -> None:
    """Raise SystemExit listing every problem of `values` (over the template's `defaults`),
    after `problems` found before (values out of their limits)."""
    run = {**defaults, **values}
    problems = list(problems)
    source = run.get("source_uri")
    if isinstance(source, str) and not source.startswith(("gs://", "bq://")):
        problems.append(
            f"source_uri={source!r} is not in Cloud Storage (or, for text, BigQuery), which is "
            "all a Vertex AI run can read: upload the data and pass it, e.g. "
            "source_uri=gs://my-bucket/flowers"
        )
    log = run.get("request_log_uri")
    if isinstance(log, str) and log and not log.startswith("gs://"):
        problems.append(
            f"request_log_uri={log!r} is not in Cloud Storage, where a Vertex AI endpoint's "
            "container writes its request log: e.g. request_log_uri=gs://my-bucket/request-log"
        )
    database = run.get("local_database")
    if database:
        problems.append(
            f"local_database={database!r} is a file on this machine; a Vertex AI run queries "
            "BigQuery: leave it empty (local_database=) and query a table, e.g. "
            "source_query=my-project.weather.temps"
        )
    accelerator = run.get("train_accelerator_type", NO_ACCELERATOR)
    count = int(run.get("train_accelerator_count", 0))
    if accelerator != NO_ACCELERATOR and count < 1:
        problems.append(
            f"train_accelerator_type={accelerator} needs train_accelerator_count >= 1, "
            "e.g. train_accelerator_count=1"
        )
    if accelerator == NO_ACCELERATOR and count > 0:
        problems.append(
            f"train_accelerator_count={count} needs a train_accelerator_type, "
            "e.g. train_accelerator_type=NVIDIA_TESLA_T4"
        )
    low, high = run.get("serving_min_replica_count"), run.get("serving_max_replica_count")
    if low is not None and high is not None and 1 <= int(high) < int(low):
        problems.append(
            f"serving replicas min={int(low)}, max={int(high)}: need min <= max, "
            "e.g. serving_min_replica_count=1 serving_max_replica_count=2"
        )
    start, most = run.get("starting_replica_count"), run.get("max_replica_count")
    if start is not None and most is not None and int(most) < int(start):
        problems.append(
            f"batch prediction replicas starting={int(start)}, max={int(most)}: need "
            "starting <= max, e.g. starting_replica_count=1 max_replica_count=2"
        )
    split = run.get("traffic_split")
    if isinstance(split, dict) and sum(float(v) for v in split.values()) != 100:
        problems.append(
            f'traffic_split={split} does not add up to 100; "0" is the new model, '
            'e.g. traffic_split={"0":100}'
        )
    if "monitoring_alert_emails" in run:
        problem = email_list_problem("monitoring_alert_emails", run["monitoring_alert_emails"])
        problems += [problem] if problem else []
    if problems:
        raise SystemExit(problems_message(problems))
