"""Parameter values Vertex AI would reject late are refused before anything is sent."""

import pytest

from pipelines.cli import main
from pipelines.vertex.run_values import check_run_values

DEFAULTS = {
    "train_replica_count": 1,
    "train_accelerator_type": "ACCELERATOR_TYPE_UNSPECIFIED",
    "train_accelerator_count": 0,
    "serving_min_replica_count": 1,
    "serving_max_replica_count": 1,
    "traffic_split": {"0": 100},
}


def test_good_values_pass():
    check_run_values({"source_uri": "gs://data/flowers"}, DEFAULTS)
    check_run_values(
        {
            "source_uri": "gs://data/flowers",
            "train_accelerator_type": "NVIDIA_TESLA_T4",
            "train_accelerator_count": 2,
            "serving_max_replica_count": 3,
            "train_replica_count": 4,  # multi-worker: TF_CONFIG on every replica
            "traffic_split": {"0": 10, "4711": 90},
        },
        DEFAULTS,
    )
    check_run_values({"source_query": "p.weather.temps"}, {**DEFAULTS, "local_database": ""})
    check_run_values({"request_log_uri": "gs://logs/vision"}, {**DEFAULTS, "request_log_uri": ""})
    check_run_values({"monitoring_alert_emails": ["ml-team@example.com"]}, DEFAULTS)


@pytest.mark.parametrize(
    ("values", "message"),
    [
        ({"source_uri": "build/demo/flowers"}, "source_uri='build/demo/flowers' is not in Cloud"),
        ({"request_log_uri": "build/request-log"}, "request_log_uri='build/request-log' is not"),
        ({"train_accelerator_type": "NVIDIA_TESLA_T4"}, "needs train_accelerator_count >= 1"),
        (
            {"train_accelerator_count": 1},
            "train_accelerator_count=1 needs a train_accelerator_type",
        ),
        ({"serving_min_replica_count": 2}, r"min=2, max=1: need min <= max"),
        (
            {"starting_replica_count": 3, "max_replica_count": 2},
            r"batch prediction replicas starting=3, max=2: need starting <= max",
        ),
        ({"traffic_split": {"0": 50}}, "does not add up to 100"),
        ({"monitoring_alert_emails": ["ml-team"]}, r"monitoring_alert_emails has \['ml-team'\]"),
        (
            {"local_database": "build/demo/timeseries/warehouse.duckdb"},
            r"local_database='build/.*' is a file on this machine; .* BigQuery",
        ),
    ],
)
def test_bad_values_are_named_with_an_example(values, message):
    with pytest.raises(SystemExit, match=message):
        check_run_values({"source_uri": "gs://data/flowers", **values}, DEFAULTS)


def test_every_problem_at_once_and_no_request(template_dir, vertex_api, vertex_env):
    with pytest.raises(SystemExit) as refused:
        main(
            ["submit", "vision", "--template-dir", str(template_dir),
             "--set", "source_uri=/home/me/flowers", "--set", "train_replica_count=0",
             "--set", "serving_max_replica_count=0"]
        )  # fmt: skip
    message = str(refused.value)
    assert message.startswith("Parameters need fixing:")
    assert "source_uri=" in message and "train_replica_count=0 is out of range" in message
    assert "serving_max_replica_count=0 is out of range" in message
    assert vertex_api.requests == []
