"""Search spaces and metrics checked against each case's config before any trial runs."""

import dataclasses
import json

import pytest

from serving.contracts.errors import InputError
from trainer.catalog import case_names
from trainer.parameter_limits import case_problems, training_config
from trainer.text.config import TextTrainConfig
from trainer.tuning.result import apply_tuning, record_tuning, study_result, vertex_trials
from trainer.tuning.space import Parameter, case_tuning, check_metric, search_space
from trainer.tuning.trials import setting_flags


@pytest.mark.parametrize("case", case_names())
def test_each_case_declares_a_valid_default_space_and_metric(case):
    tuning = case_tuning(case)
    parameters = search_space(training_config(case), tuning.space)
    assert set(parameters) == set(tuning.space)
    defaults = {f.name: f.default for f in dataclasses.fields(training_config(case))}
    assert check_metric(case, tuning, "", defaults) == next(iter(tuning.metrics.items()))
    assert set(tuning.budget) <= {f for f in training_config(case).__dataclass_fields__}


BAD_SPACES = {
    "an unknown field": ({"learning_rte": {"min": 0.1, "max": 0.2}}, "'learning_rte', which"),
    "a distribution option": ({"strategy": {"values": ["auto"]}}, "'strategy', which is not"),
    "outside the field's limit": (
        {"dropout": {"min": 0.1, "max": 1.5}},
        "reaches outside the field: dropout=1.5 is out of range",
    ),
    "min above max": ({"dropout": {"min": 0.4, "max": 0.1}}, "needs numbers min < max"),
    "log from 0": (
        {"learning_rate": {"min": 0, "max": 0.1, "scale": "log"}},
        "log with min > 0",
    ),
    "decimals for an int": ({"hidden_units": {"min": 1.5, "max": 9}}, "must be whole"),
    "a bool field": ({"trainable": {"values": [True]}}, "'trainable', which is not a tunable"),
    "a range of text": ({"hub_handle": {"min": 1, "max": 2}}, "give its values"),
    "not an object": ({"dropout": 0.2}, "must be an object"),
}


@pytest.mark.parametrize("name", BAD_SPACES)
def test_a_bad_search_space_is_refused_naming_the_entry(name):
    space, message = BAD_SPACES[name]
    with pytest.raises(InputError, match=message.replace("(", r"\(").replace("[", r"\[")):
        search_space(TextTrainConfig, space)


def test_a_pipeline_run_checks_its_tuning_parameters_before_any_step():
    good = {"tuning_trials": 4, "tuning_metric": "", "tuning_space": {}}
    assert case_problems("text", good) == []
    assert (
        "tuning_metric='loss' is not a metric"
        in case_problems("text", {**good, "tuning_metric": "loss"})[0]
    )
    grid = {**good, "tuning_algorithm": "GRID_SEARCH"}
    assert "GRID_SEARCH needs integer ranges" in case_problems("text", grid)[0]
    no_folds = {"tuning_trials": 2, "cv_folds": 0}
    assert (
        "tuning_metric=cv_mae_mean needs cv_folds >= 2 (it is 0)"
        in case_problems("timeseries", no_folds)[0]
    )
    assert case_problems("timeseries", {**no_folds, "tuning_metric": "train_mae"}) == []
    off = {**good, "tuning_trials": 0, "tuning_metric": "loss"}
    assert case_problems("text", off) == []  # tuning off: nothing of it is used
    assert "tuning_trials=-1 is out of range" in case_problems("text", {"tuning_trials": -1})[0]


def test_the_best_trial_s_values_apply_over_the_config_as_its_field_types():
    trials = vertex_trials(
        [
            {
                "id": "1",
                "state": "SUCCEEDED",
                "parameters": [{"parameterId": "hidden_units", "value": 32.0}],
                "finalMeasurement": {"metrics": [{"metricId": "val_accuracy", "value": 0.8}]},
            },
            {"id": "2", "state": "INFEASIBLE", "infeasibleReason": "exit 1", "parameters": []},
        ]
    )
    result = study_result("val_accuracy", "maximize", trials)
    # a failed trial has no value, and the result still passes between steps (no null)
    from kfp.compiler.pipeline_spec_builder import to_protobuf_value

    assert "value" not in result["trials"][1] and to_protobuf_value(result)
    tuned = apply_tuning(TextTrainConfig(epochs=1), result)
    assert tuned.hidden_units == 32 and isinstance(tuned.hidden_units, int)
    assert tuned.epochs == 1
    assert apply_tuning(TextTrainConfig(), {}) == TextTrainConfig()
    with pytest.raises(InputError, match="lstm_units"):
        apply_tuning(TextTrainConfig(), {**result, "best": {"lstm_units": 8}})


def test_a_tuned_value_takes_its_field_s_type_hint_and_must_pass_its_limits():
    result = study_result(
        "val_accuracy",
        "maximize",
        [{"id": "1", "state": "SUCCEEDED", "parameters": {"dropout": 0.37}, "value": 0.8}],
    )
    tuned = apply_tuning(TextTrainConfig(dropout=0), result)  # an int in a float field
    assert tuned.dropout == 0.37
    with pytest.raises(InputError, match=r"best values are outside their limits: dropout"):
        apply_tuning(TextTrainConfig(), {**result, "best": {"dropout": 1.5}})


@pytest.mark.parametrize("trainable", [True, False])
def test_a_boolean_setting_reaches_a_trial_as_the_task_parses_it(trainable):
    from trainer.task import _dashed, _parser

    flags = setting_flags({"trainable": trainable, "epochs": 2})
    assert flags == ["--trainable" if trainable else "--no-trainable", "--epochs=2"]
    argv = ["text", "--dataset-dir", "d", *flags, "--hypertune-metric", "val_accuracy"]
    args = _parser().parse_args(_dashed(argv))
    assert (args.trainable, args.epochs) == (trainable, 2)


def test_the_study_is_kept_in_the_model_s_metadata_as_the_config_s_types(tmp_path):
    result = study_result(
        "val_accuracy",
        "maximize",
        [{"id": "1", "state": "SUCCEEDED", "parameters": {"hidden_units": 32.0}, "value": 0.8}],
    )  # numbers come back from a pipeline step as doubles
    (tmp_path / "metadata.json").write_text(json.dumps({"task": "text"}))
    record_tuning(tmp_path, result, TextTrainConfig())
    metadata = json.loads((tmp_path / "metadata.json").read_text())
    assert metadata["task"] == "text"
    assert metadata["tuning"]["best"] == {"hidden_units": 32}
    assert metadata["tuning"]["trials"][0]["parameters"] == {"hidden_units": 32}
    assert isinstance(metadata["tuning"]["best"]["hidden_units"], int)
    record_tuning(tmp_path / "worker", result, TextTrainConfig())  # no model there: nothing
    assert not (tmp_path / "worker").exists()


def test_the_vertex_job_s_specs_are_vertex_parameter_specs():
    from trainer.tuning import vertex_study

    inputs = vertex_study.job_inputs(
        "text", "gs://b/dataset", {"epochs": 9, "trainable": False}, {}, "", "image:1",
        {"machine_type": "n1-standard-4"},
    )  # fmt: skip
    log, linear, unspecified = 2, 1, 0  # StudySpec.ParameterSpec.ScaleType
    assert inputs["study_spec_parameters"] == [
        {
            "parameter_id": "learning_rate",
            "double_value_spec": {"min_value": 1e-4, "max_value": 1e-2},
            "scale_type": log,
            "conditional_parameter_specs": [],
        },
        {
            "parameter_id": "dropout",
            "double_value_spec": {"min_value": 0.0, "max_value": 0.5},
            "scale_type": linear,
            "conditional_parameter_specs": [],
        },
        {
            "parameter_id": "hidden_units",
            "integer_value_spec": {"min_value": "8", "max_value": "64"},
            "scale_type": linear,
            "conditional_parameter_specs": [],
        },
    ]  # int64 bounds are strings in the proto's JSON form
    listed = {
        "batch_size": Parameter("batch_size", int, values=(16, 32)),
        "base_model": Parameter("base_model", str, values=("a", "b")),
    }
    specs = {name: vertex_study._vertex_spec(p) for name, p in listed.items()}
    assert vertex_study.serialize_parameters(specs) == [
        {
            "parameter_id": "batch_size",
            "discrete_value_spec": {"values": [16.0, 32.0]},
            "scale_type": linear,
            "conditional_parameter_specs": [],
        },
        {
            "parameter_id": "base_model",
            "categorical_value_spec": {"values": ["a", "b"]},
            "scale_type": unspecified,
            "conditional_parameter_specs": [],
        },
    ]
    assert inputs["study_spec_metrics"] == [{"metric_id": "val_accuracy", "goal": 1}]  # MAXIMIZE
    [pool] = inputs["worker_pool_specs"]
    assert pool["container_spec"]["args"] == [
        "--dataset-dir", "gs://b/dataset", "--epochs=3", "--no-trainable",
        "--hypertune-metric", "val_accuracy",
    ]  # fmt: skip
