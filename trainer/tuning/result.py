"""A finished study as one JSON value: its trials table and the best trial's values.

The same shape whichever ran the study (the local runner, the emulator or Vertex AI), so
that training applies it (`apply_tuning`) and the model's metadata (`"tuning"`) and the
evaluation report show it alike:

    {"metric": "val_accuracy", "goal": "maximize", "best_trial": "3",
     "best_value": 0.93, "best": {"learning_rate": 0.0031, "dropout": 0.12},
     "trials": [{"id": "1", "state": "SUCCEEDED", "parameters": {...}, "value": 0.9,
                 "error": ""}, ...]}

A failed trial is in the table with its state (Vertex AI's INFEASIBLE) and its error, and
without "value": the result passes between pipeline steps, whose values cannot hold null.
`{}` is "no tuning": the config stays as given.
"""

from __future__ import annotations

import dataclasses
import math
import typing
from collections.abc import Mapping, Sequence
from pathlib import Path

from serving.contracts.artifact_dirs import write_json
from serving.contracts.errors import InputError
from serving.contracts.limits import declared_limits, value_problems
from serving.contracts.model_metadata import METADATA, read_model_metadata

SUCCEEDED = "SUCCEEDED"
INFEASIBLE = "INFEASIBLE"  # Vertex AI's state of a trial that failed


class NoTrialSucceeded(InputError):
    """Every trial of a study failed: there is no best trial (the command exits 1, not 2)."""


def study_result(metric: str, goal: str, trials: Sequence[Mapping]) -> dict:
    """The result of a study from its trials (id, state, parameters, value, error);
    NoTrialSucceeded naming the failures when no trial succeeded."""
    table = [
        {
            "id": str(t["id"]),
            "state": t["state"],
            "parameters": dict(t["parameters"]),
            **({"value": t["value"]} if t.get("value") is not None else {}),
            "error": t.get("error", ""),
        }
        for t in trials
    ]
    scored = [t for t in table if t["state"] == SUCCEEDED and _finite(t.get("value"))]
    if not scored:
        reasons = "; ".join(f"trial {t['id']}: {t['error'] or t['state']}" for t in table[:3])
        raise NoTrialSucceeded(
            f"All {len(table)} tuning trials failed, so there is no best trial ({reasons}). "
            "Read the trials' logs, fix the cause, and run again."
        )
    best = (max if goal == "maximize" else min)(scored, key=lambda t: t["value"])
    return {
        "metric": metric,
        "goal": goal,
        "best_trial": best["id"],
        "best_value": best["value"],
        "best": best["parameters"],
        "trials": table,
    }


def apply_tuning(config: object, result: Mapping) -> object:
    """`config` with the best trial's values of `result` (unchanged for `{}`), checked again:
    InputError for a value outside its field's limits (a space wider than the field allows)."""
    best = dict(result.get("best", {})) if result else {}
    names = {f.name for f in dataclasses.fields(config)}
    unknown = sorted(set(best) - names)
    if unknown:
        raise InputError(
            f"The tuning result sets {', '.join(unknown)}, which {type(config).__name__} does not "
            "have: it comes from another case study's study."
        )
    types = typing.get_type_hints(type(config))
    values = {k: _typed(types[k], v) for k, v in best.items()}
    problems = value_problems(values, declared_limits(type(config)))
    if problems:
        raise InputError(
            f"The tuning result's best values are outside their limits: {'; '.join(problems)}. "
            "Tune again with a search space inside them."
        )
    tuned = dataclasses.replace(config, **values)
    tuned.check()
    return tuned


def record_tuning(model_dir: str | Path, result: Mapping, config: object) -> None:
    """Keep the study `result` in the model's metadata.json as "tuning" (atomically), its
    values as `config`'s field types (its type hints, not its values' types: a float field
    may hold an int default); nothing for `{}`, or where no model was written (a
    worker replica: the chief writes it)."""
    if not result or not (Path(model_dir) / METADATA).is_file():
        return
    types = typing.get_type_hints(type(config))

    def typed(values: Mapping) -> dict:
        return {k: _typed(types[k], v) if k in types else v for k, v in values.items()}

    trials = [{**t, "parameters": typed(t["parameters"])} for t in result["trials"]]
    tuning = {**result, "best": typed(result["best"]), "trials": trials}
    metadata = read_model_metadata(model_dir)
    write_json(Path(model_dir) / METADATA, {**metadata, "tuning": tuning})


def vertex_trials(trials: Sequence[Mapping]) -> list[dict]:
    """The trials of a Vertex AI HyperparameterTuningJob (its `trials`, as protojson dicts with
    parameterId, finalMeasurement...) as rows of `study_result`."""
    rows = []
    for trial in trials:
        metrics = trial.get("finalMeasurement", {}).get("metrics", [])
        rows.append(
            {
                "id": trial.get("id", ""),
                "state": trial.get("state", ""),
                "parameters": {
                    p["parameterId"]: p.get("value") for p in trial.get("parameters", [])
                },
                "value": metrics[0].get("value") if metrics else None,
                "error": trial.get("infeasibleReason", ""),
            }
        )
    return rows


def _typed(kind: type, value: object) -> object:
    """A tuned value as its field's type (Vertex AI writes every number as a double)."""
    if kind is int:
        return round(float(value))
    return float(value) if kind is float else value


def _finite(value: object) -> bool:
    return isinstance(value, int | float) and math.isfinite(value)
