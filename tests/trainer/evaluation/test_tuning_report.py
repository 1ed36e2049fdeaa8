"""The tuning section of the evaluation reports: the trials table and a plot per parameter."""

from trainer.evaluation.tuning_report import tuning_section
from trainer.tuning.result import study_result

TRIALS = [
    {"id": "1", "state": "SUCCEEDED", "parameters": {"dropout": 0.1, "flip": "none"}, "value": 0.7},
    {"id": "2", "state": "SUCCEEDED", "parameters": {"dropout": 0.3, "flip": "both"}, "value": 0.9},
    {"id": "3", "state": "INFEASIBLE", "parameters": {"dropout": 0.2, "flip": "none"},
     "value": None, "error": "exited with status 1"},
]  # fmt: skip


def test_a_tuned_model_s_report_shows_its_trials_and_the_metric_against_each_parameter():
    section = tuning_section(study_result("val_accuracy", "maximize", TRIALS))

    assert "trial 2 (0.9000) chose dropout=0.3, flip=both" in section
    assert "<td>2 (best)</td><td>SUCCEEDED</td><td>0.3</td><td>both</td><td>0.9000</td>" in section
    assert "exited with status 1" in section
    assert section.count("data:image/png;base64,") == 1  # one figure, a panel per parameter


def test_an_untuned_model_s_report_has_no_tuning_section():
    assert tuning_section({}) == tuning_section(None) == ""
