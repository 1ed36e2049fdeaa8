"""Vertex AI's side of a study: the HyperparameterTuningJob's inputs, and its trials read back.

`job_inputs` builds what GCPC's HyperparameterTuningJobRunOp takes: the trial's worker
pool (this project's image running `python3 -m trainer.task <case>` on the ingested
dataset, with the pipeline's settings capped to the case's budget and the metric to
report), and the parameter and metric specs as GCPC's serialize helpers write them
(`serialize_parameters`, `serialize_metrics`: the same calls, repeated here because their
package cannot be imported in a running step, where kfp leaves out the compile-time
`kfp.dsl` its job component needs; tests/trainer/tuning checks the two agree).
Vertex AI appends each trial's values as `--<parameter_id>=<value>` and sets the trial's
AIP_MODEL_DIR under the job's base output directory.

`read_study` reads the finished job's trials back, as GCPC 1.x's GetTrialsOp and
GetBestHyperparametersOp did (GCPC 2.22 ships neither: the job op returns only
gcp_resources): the job named in gcp_resources, from JobService, as a study result.
"""

from __future__ import annotations

import json
from collections.abc import Mapping

from serving.contracts.errors import InputError
from trainer.parameter_limits import training_config
from trainer.tuning.result import study_result, vertex_trials
from trainer.tuning.space import Parameter, case_tuning, check_metric, search_space, trial_settings
from trainer.tuning.trials import setting_flags

JOB_COLLECTION = "/hyperparameterTuningJobs/"


def job_inputs(
    case: str,
    dataset_uri: str,
    settings: Mapping[str, object],
    space: Mapping[str, object],
    metric: str,
    image: str,
    machine_spec: Mapping[str, object],
) -> dict:
    """worker_pool_specs, study_spec_parameters, study_spec_metrics, metric and goal of the
    HyperparameterTuningJob that tunes case study `case` on `dataset_uri` (gs://)."""
    tuning = case_tuning(case)
    metric, goal = check_metric(case, tuning, metric, settings)
    parameters = search_space(training_config(case), space or tuning.space)
    fixed = {k: v for k, v in trial_settings(settings, tuning).items() if k not in parameters}
    args = ["--dataset-dir", dataset_uri, *setting_flags(fixed), "--hypertune-metric", metric]
    pool = {
        "machine_spec": dict(machine_spec),
        "replica_count": 1,
        "container_spec": {
            "image_uri": image,
            "command": ["python3", "-m", "trainer.task", case],
            "args": args,
        },
    }
    specs = {name: _vertex_spec(p) for name, p in parameters.items()}
    return {
        "worker_pool_specs": [pool],
        "study_spec_parameters": serialize_parameters(specs),
        "study_spec_metrics": serialize_metrics({metric: goal}),
        "metric": metric,
        "goal": goal,
    }


def serialize_parameters(specs: Mapping[str, object]) -> list[dict]:
    """GCPC's serialize_parameters: parameter id -> aiplatform SDK spec, as StudySpec dicts."""
    from google.cloud.aiplatform_v1.types import study

    return [
        study.StudySpec.ParameterSpec.to_dict(spec._to_parameter_spec(parameter_id=name))
        for name, spec in specs.items()
    ]


def serialize_metrics(metrics: Mapping[str, str]) -> list[dict]:
    """GCPC's serialize_metrics: metric id -> goal ("maximize"), as StudySpec dicts."""
    from google.cloud.aiplatform_v1.types import study

    return [
        study.StudySpec.MetricSpec.to_dict(
            study.StudySpec.MetricSpec({"metric_id": metric, "goal": goal.upper()})
        )
        for metric, goal in metrics.items()
    ]


def read_study(gcp_resources: str, metric: str, goal: str) -> dict:
    """The study result (trainer.tuning.result) of the HyperparameterTuningJob in
    `gcp_resources` (the JSON GCPC's job op writes), read from Vertex AI's JobService."""
    from google.cloud import aiplatform_v1 as v1

    name, location = job_name(gcp_resources)
    client = v1.JobServiceClient(
        client_options={"api_endpoint": f"{location}-aiplatform.googleapis.com"}
    )
    job = client.get_hyperparameter_tuning_job(name=name)
    payload = json.loads(v1.HyperparameterTuningJob.to_json(job, use_integers_for_enums=False))
    return study_result(metric, goal, vertex_trials(payload.get("trials", [])))


def job_name(gcp_resources: str) -> tuple[str, str]:
    """(resource name, location) of the tuning job in GCPC's gcp_resources JSON."""
    try:
        uri = json.loads(gcp_resources)["resources"][0]["resourceUri"]
    except (ValueError, KeyError, IndexError, TypeError):
        uri = ""
    at = uri.find("projects/")
    if JOB_COLLECTION not in uri or at < 0:
        raise InputError(
            f"gcp_resources {gcp_resources!r} names no HyperparameterTuningJob: pass the "
            "gcp_resources output of GCPC's HyperparameterTuningJobRunOp."
        )
    name = uri[at:]
    return name, name.split("/")[3]


def _vertex_spec(parameter: Parameter):
    """The aiplatform SDK's spec of one parameter (what serialize_parameters takes)."""
    from google.cloud.aiplatform import hyperparameter_tuning as hpt

    if parameter.values and parameter.kind is str:
        return hpt.CategoricalParameterSpec(values=list(parameter.values))
    if parameter.values:
        return hpt.DiscreteParameterSpec(values=list(parameter.values), scale="linear")
    spec = hpt.IntegerParameterSpec if parameter.kind is int else hpt.DoubleParameterSpec
    return spec(min=parameter.low, max=parameter.high, scale=parameter.scale)
