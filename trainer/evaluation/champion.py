"""Champion / challenger: a new model replaces the current one only if it is not worse.

The challenger (the model just trained) and the champion (the model now
deployed) are scored by the same code on the same test split. The challenger
passes when its score is no worse than the champion's by more than
`tolerance`, a fraction of the champion's score: with accuracy 0.90 and
tolerance 0.01 it needs at least 0.891; with MAE 2.0 (lower is better) at
most 2.02. A champion made for other data (other classes, another window:
the scorer raises NotComparable) or whose score is not a number is recorded
as not comparable, and only the absolute gates decide. A champion that
cannot be read at all is an error: the step fails rather than bless blindly.
"""

from __future__ import annotations

import logging
import math
from collections.abc import Callable
from dataclasses import asdict, dataclass
from pathlib import Path

from serving.contracts.errors import InputError
from serving.contracts.limits import check_values
from trainer.distribution.job_dirs import local_path
from trainer.parameter_limits import PIPELINE_LIMITS

log = logging.getLogger(__name__)


class NotComparable(Exception):
    """The champion was made for other data, so its score would not compare; says how."""


@dataclass(frozen=True)
class ChampionComparison:
    metric: str
    challenger: float
    champion: float | None  # None: no champion, or not comparable
    passed: bool
    reason: str

    def as_dict(self) -> dict:
        return asdict(self)


def check_gate_settings(**settings: float) -> None:
    """InputError for gate settings (by parameter name) outside their limits, as commands say it."""
    check_values(settings, PIPELINE_LIMITS)


def compare(
    metric: str,
    challenger: float,
    champion: float | None,
    higher_is_better: bool,
    tolerance: float,
) -> ChampionComparison:
    """Whether `challenger` does not regress from `champion` beyond `tolerance`."""
    check_gate_settings(regression_tolerance=tolerance)
    if champion is None:
        return ChampionComparison(metric, challenger, None, True, "no champion yet")
    if not math.isfinite(champion):
        reason = f"champion not comparable (its {metric} is {champion})"
        return ChampionComparison(metric, challenger, None, True, reason)
    if higher_is_better:
        bar = champion - abs(champion) * tolerance
        passed = challenger >= bar
        sign = ">=" if passed else "<"
    else:
        bar = champion + abs(champion) * tolerance
        passed = challenger <= bar
        sign = "<=" if passed else ">"
    reason = (
        f"{metric} {challenger:.4f} {sign} {bar:.4f} (champion {champion:.4f}, "
        f"{tolerance:.0%} tolerance, {'higher' if higher_is_better else 'lower'} is better)"
    )
    return ChampionComparison(metric, challenger, champion, passed, reason)


def champion_gate(
    metric: str,
    challenger: float,
    champion_dir: str | Path | None,
    score: Callable[[Path], float],
    higher_is_better: bool,
    tolerance: float,
) -> ChampionComparison:
    """Score the champion with `score` (the challenger's scorer) and compare the two.

    `champion_dir` is a directory, a gs:// URI (read through the /gcs mount), or empty.
    """
    check_gate_settings(regression_tolerance=tolerance)
    if not champion_dir:
        return ChampionComparison(metric, challenger, None, True, "no champion yet")
    path = local_path(champion_dir, "champion_uri")  # gs:// -> /gcs on Vertex AI
    if not path.is_dir():
        raise InputError(
            f"The champion at {champion_dir} is not there ({path}): check the registry; "
            "evaluation will not bless a model without comparing it."
        )
    try:
        champion = score(path)
    except NotComparable as exc:
        log.warning("The champion at %s is not comparable: %s", champion_dir, exc)
        return ChampionComparison(
            metric, challenger, None, True, f"champion not comparable ({exc})"
        )
    return compare(metric, challenger, champion, higher_is_better, tolerance)
