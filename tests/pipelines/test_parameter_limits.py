"""Every number a pipeline takes has a declared limit, checked before any step by every command.

The limits are declared once (training settings with their config field, the
rest in trainer.parameter_limits); the commands check them before set-up, and
the steps check again with the same message for runs started by other means.
"""

import importlib

import pytest

from pipelines.catalog import PIPELINES, get_pipeline
from pipelines.cli import main
from pipelines.parameters import check_parameter_values, pipeline_defaults, pipeline_parameters
from serving.contracts.errors import InputError
from trainer.evaluation.champion import check_gate_settings
from trainer.parameter_limits import PIPELINE_LIMITS, case_limits, training_config

VISION_DEFAULTS = pipeline_defaults(get_pipeline("vision"))


def training_config_module(case: str):
    return importlib.import_module(f"trainer.{case}.config")


# Parameters with no limit of their own, and why. A new parameter must get a limit or a reason.
UNLIMITED = {
    "source_uri": "checked by ingest (gs://, bq:// or a path) and by submit (Cloud Storage only)",
    "source_query": "checked as a read-only query before any engine sees it",
    "local_database": "a file, checked by ingest; submit refuses any",
    "bigquery_project": "a project id, checked by BigQuery",
    "bigquery_location": "a location, checked by BigQuery",
    "serving_image": "an image URI, checked by submit (not the placeholder)",
    "traffic_split": "checked by submit (adds up to 100)",
    "base_weights": "imagenet or a weights file, checked by training",
    "hub_handle": "a TF Hub handle or path, loaded and checked first by training",
    "text_field": "a column name, checked against the data by ingest",
    "label_field": "a column name, checked against the data by ingest",
    "time_column": "a column name, checked against the data by training",
    "target_column": "a column name, checked against the data by training",
    "frequency": "a pandas alias, checked by the config's rules (check_frequency)",
    "trainable": "a bool",
    "request_log_uri": "gs:// or empty, checked by training (container_spec) and by submit",
    "schema_uri": "a schema.json (local or gs://), read and checked by validation",
    "drift_thresholds": "{feature: 0 to 1}, checked against the data's features by validation",
    "model_monitoring": "a bool",
    "monitoring_alert_emails": "email addresses, checked by submit and the monitoring step",
    "tuning_space": "checked against the config's fields and limits (trainer.tuning.space)",
    "tuning_metric": "one of the case's tuning metrics (trainer/<case>/tuning.py)",
}


@pytest.mark.parametrize("case", PIPELINES)
def test_every_parameter_of_every_pipeline_has_a_limit_or_a_reason(case):
    parameters = pipeline_parameters(get_pipeline(case))
    unlimited = set(parameters) - set(case_limits(case)) - set(UNLIMITED)
    assert not unlimited, f"{case}: declare a Limit for {sorted(unlimited)}"
    assert not set(UNLIMITED) & set(case_limits(case)), "a reason for a limited parameter"


@pytest.mark.parametrize("case", PIPELINES)
def test_the_defaults_are_within_their_limits(case):
    check_parameter_values(case, {}, pipeline_defaults(get_pipeline(case)))


def test_every_shared_limit_belongs_to_a_pipeline_parameter():
    names = {name for case in PIPELINES for name in pipeline_parameters(get_pipeline(case))}
    assert set(PIPELINE_LIMITS) <= names, set(PIPELINE_LIMITS) - names


BAD_VALUES = {
    "vision": [
        ("image_size=10000", "image_size=10000 is out of range: it must be from 32 to 1,024"),
        ("seed=-1", "seed=-1 is out of range: it must be from 0 to 4,294,967,295"),
        ("head_epochs=100000000000", "head_epochs=100000000000 is out of range"),
        ("model_name=../x", "model_name='../x' is not allowed: it must be 1 to 128 ASCII"),
        (
            "accuracy_threshold=1.5",
            "accuracy_threshold=1.5 is out of range: it must be from 0 to 1",
        ),
        ("dropout=1", "dropout=1.0 is out of range: it must be at least 0 and below 1"),
        ("serving_max_replica_count=0", "serving_max_replica_count=0 is out of range"),
        ("cv_folds=1", "cv_folds=1 is out of range: it must be 0 (off) or from 2 to 20."),
        ("batch_size=512", "batch_size=512 x image_size=224² is 25,690,112 pixels per batch"),
        ("base_model=vgg16", "base_model='vgg16' is not allowed: it must be one of resnet50,"),
        ("augment_flip=diagonal", "augment_flip='diagonal' is not allowed: it must be one of"),
        ("strategy=horovod", "strategy='horovod' is not allowed: it must be one of auto,"),
        ("validation_fraction=0", "validation_fraction=0.0 is out of range: it must be above 0"),
        (
            "validation_fraction=0.5 test_fraction=0.45",
            "validation_fraction + test_fraction = 0.95",
        ),
        ("registry_uri=gs://b/registry", "registry_uri='gs://b/registry' is not allowed"),
        ("train_machine_type=big", "train_machine_type='big' is not allowed: it must be a machine"),
        ("train_accelerator_type=T4", "train_accelerator_type='T4' is not allowed"),
        ("endpoint_service_account=me", "endpoint_service_account='me' is not allowed"),
    ],
    "timeseries": [
        ("lstm_units=100000", "lstm_units=100000 is out of range: it must be from 1 to 2,048"),
        ("epochs=0", "epochs=0 is out of range: it must be from 1 to 10,000"),
        ("test_fraction=0", "test_fraction=0.0 is out of range: it must be above 0 and below 1"),
        ("baseline_margin=-0.5", "baseline_margin=-0.5 is out of range"),
        ("window=5000 lstm_units=2048", "batch_size=64 x window=5000 x lstm_units=2048 x"),
        ("imputation=zeros", "imputation='zeros' is not allowed: it must be one of forward_fill"),
        ("frequency=fortnight", "frequency 'fortnight' is not a pandas offset alias"),
        ("frequency=0h", "frequency '0h' is not a pandas offset alias of a step forward"),
        ("frequency=-1D", "frequency '-1D' is not a pandas offset alias of a step forward"),
    ],
    "text": [
        ("learning_rate=0", "learning_rate=0.0 is out of range: it must be above 0 and at most 1"),
        ("max_chars=0", "max_chars=0 is out of range: it must be from 1 to 1,000,000"),
        ("validation_fraction=1.5", "validation_fraction=1.5 is out of range"),
        ("validation_fraction=0.6 test_fraction=0.5", "validation_fraction + test_fraction = 0.6"),
        ("train_accelerator_count=100", "train_accelerator_count=100 is out of range"),
    ],
}


@pytest.mark.parametrize(
    ("case", "value", "message"),
    [(case, value, message) for case, cases in BAD_VALUES.items() for value, message in cases],
)
def test_run_refuses_a_value_out_of_range_by_name_before_any_step(case, value, message, tmp_path):
    root = tmp_path / "root"
    sets = [arg for pair in value.split() for arg in ("--set", pair)]
    with pytest.raises(SystemExit) as stopped:
        main(["run", case, "--pipeline-root", str(root), *sets])
    assert str(stopped.value).startswith(message)
    assert "Traceback" not in str(stopped.value)
    assert not root.exists(), "no step ran"


def test_every_value_out_of_range_is_named_at_once(tmp_path):
    with pytest.raises(SystemExit) as stopped:
        main(["run", "text", "--set", "epochs=0", "--set", "seed=-5", "--set", "max_chars=0"])
    lines = str(stopped.value).splitlines()
    assert lines[0] == "Parameters need fixing:"
    assert sorted(line.split("=")[0].strip(" -") for line in lines[1:]) == [
        "epochs",
        "max_chars",
        "seed",
    ]


@pytest.mark.parametrize(("value", "message"), BAD_VALUES["vision"][:3])
def test_emulate_refuses_before_the_emulator_starts(value, message, tmp_path):
    home = tmp_path / "emulator"
    with pytest.raises(SystemExit) as stopped:
        main(["emulate", "vision", "--home", str(home), "--set", value])
    assert str(stopped.value).startswith(message)
    assert not (home / "logs").exists(), "the emulator did not start"


@pytest.mark.parametrize("case", PIPELINES)
def test_the_training_step_refuses_with_the_command_s_message(case):
    """A run started by other means (the Vertex console) meets the same check in the step."""
    with pytest.raises(InputError) as in_step:
        training_config(case)(seed=-1, dropout=1.0).check()
    with pytest.raises(InputError) as in_command:
        check_parameter_values(
            case, {"seed": -1, "dropout": 1.0}, pipeline_defaults(get_pipeline(case))
        )
    assert str(in_step.value) == str(in_command.value)
    assert str(in_step.value).count("is out of range") == 2


def test_the_evaluation_step_refuses_with_the_command_s_message():
    with pytest.raises(InputError) as in_step:
        check_gate_settings(accuracy_threshold=1.5, regression_tolerance=0.01)
    with pytest.raises(InputError) as in_command:
        check_parameter_values("vision", {"accuracy_threshold": 1.5}, VISION_DEFAULTS)
    assert str(in_step.value) == str(in_command.value)


@pytest.mark.parametrize(
    ("options", "case"),
    [
        ({"validation_fraction": 0.0}, "vision"),
        ({"validation_fraction": 0.5, "test_fraction": 0.45}, "vision"),
        ({"min_images_per_class": 0}, "vision"),
        ({"validation_fraction": 0.6, "test_fraction": 0.5}, "text"),
        ({"max_chars": 0}, "text"),
    ],
)
def test_the_ingest_step_refuses_with_the_command_s_message(options, case):
    with pytest.raises(InputError) as in_step:
        training_config_module(case).check_ingest_options(**options)
    with pytest.raises(InputError) as in_command:
        check_parameter_values(case, options, pipeline_defaults(get_pipeline(case)))
    assert str(in_step.value) == str(in_command.value)
