"""Champion / challenger decisions: higher- and lower-is-better, tolerance, no or odd champion."""

from pathlib import Path

import pytest

from serving.contracts.errors import InputError
from trainer.evaluation.champion import NotComparable, champion_gate, compare


@pytest.mark.parametrize(
    ("challenger", "champion", "higher", "tolerance", "passed"),
    [
        (0.90, 0.90, True, 0.0, True),  # equal is not a regression
        (0.892, 0.90, True, 0.01, True),  # within 1% of 0.90 (bar 0.891)
        (0.890, 0.90, True, 0.01, False),  # beyond it
        (0.95, 0.90, True, 0.0, True),
        (2.02, 2.00, False, 0.01, True),  # MAE: lower is better; bar 2.02
        (2.03, 2.00, False, 0.01, False),
        (1.50, 2.00, False, 0.0, True),
        (2.00, 1.99, False, 0.0, False),
    ],
)
def test_the_challenger_may_not_regress_beyond_the_tolerance(
    challenger, champion, higher, tolerance, passed
):
    result = compare("m", challenger, champion, higher, tolerance)
    assert result.passed is passed
    assert f"champion {champion:.4f}" in result.reason
    assert ("higher is better" if higher else "lower is better") in result.reason


def test_without_a_champion_the_challenger_passes():
    result = champion_gate("accuracy", 0.5, "", lambda path: 1.0, True, 0.01)
    assert (result.passed, result.champion, result.reason) == (True, None, "no champion yet")


def test_a_champion_that_cannot_be_scored_is_recorded_as_not_comparable(tmp_path):
    def score(path: Path) -> float:
        raise NotComparable(f"{path} has other classes")

    result = champion_gate("accuracy", 0.5, tmp_path, score, True, 0.01)
    assert result.passed and result.champion is None
    assert result.reason == f"champion not comparable ({tmp_path} has other classes)"


def test_the_champion_is_scored_by_the_given_scorer(tmp_path):
    seen = []
    result = champion_gate("mae", 3.0, tmp_path, lambda p: seen.append(p) or 2.0, False, 0.1)
    assert seen == [tmp_path] and result.champion == 2.0 and not result.passed  # 3.0 > 2.2


@pytest.mark.parametrize("tolerance", [-0.1, 1.0, 2])
def test_a_bad_tolerance_is_refused(tolerance):
    with pytest.raises(
        InputError,
        match=rf"regression_tolerance={tolerance} is out of range: it must be at least 0 and below",
    ):
        compare("m", 1.0, 1.0, True, tolerance)


def test_a_cloud_storage_champion_is_read_through_the_gcs_mount(tmp_path, monkeypatch):
    """On Vertex AI the champion's gs:// artifact URI is read at /gcs/<bucket>/<path>."""
    import trainer.distribution.job_dirs

    monkeypatch.setattr(trainer.distribution.job_dirs, "GCS_FUSE_ROOT", tmp_path)
    seen = []
    (tmp_path / "models" / "forecaster" / "7").mkdir(parents=True)
    champion_gate("mae", 1.0, "gs://models/forecaster/7", lambda p: seen.append(p) or 1.0, False, 0)
    assert seen[-1] == tmp_path / "models" / "forecaster" / "7"


def test_a_champion_that_is_not_there_fails_the_evaluation(tmp_path):
    with pytest.raises(InputError, match="evaluation will not bless a model without comparing"):
        champion_gate("accuracy", 0.9, tmp_path / "gone", lambda p: 1.0, True, 0.01)


def test_a_champion_whose_score_is_not_a_number_does_not_block_every_challenger():
    result = compare("mae", 3.0, float("nan"), False, 0.01)
    assert result.passed and result.champion is None
    assert result.reason == "champion not comparable (its mae is nan)"
