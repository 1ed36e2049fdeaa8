"""The tuning step before training, on either target: the best trial's values reach training.

    with dsl.If(tuning_trials > 0):   trial-settings -> the target's study -> its result
    with dsl.Else():                  no-tuning -> {}
    train(..., tuning_result=dsl.OneOf(result, {}))

Locally the study is one step running the local study runner (components.tuning.tune_locally);
on Vertex AI it is GCPC's HyperparameterTuningJobRunOp, between a step that builds its inputs
and one that reads its trials back. With tuning_trials=0 (the default) only `no-tuning` runs,
and training gets `{}`: the config as the parameters give it.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from dataclasses import dataclass
from typing import Any

from google_cloud_pipeline_components._placeholders import (
    LOCATION_PLACEHOLDER,
    NETWORK_PLACEHOLDER,
    SERVICE_ACCOUNT_PLACEHOLDER,
)
from google_cloud_pipeline_components.v1.hyperparameter_tuning_job import (
    HyperparameterTuningJobRunOp,
)
from kfp import dsl

from components.container_images import PIPELINE_IMAGE
from components.tuning import best_trial, no_tuning, tune_locally, tuning_job_inputs

Channel = Any  # a kfp PipelineChannel (pipeline parameter or task output)


@dataclass(frozen=True)
class TuningStudy:
    """The study before training: the pipeline parameters so named (docs/tuning.md)."""

    tuning_trials: Channel  # 0: no tuning
    tuning_parallel_trials: Channel
    tuning_space: Channel  # {}: the case's (trainer/<case>/tuning.py)
    tuning_metric: Channel  # "": the case's
    tuning_algorithm: Channel  # Vertex AI's: ALGORITHM_UNSPECIFIED, RANDOM_SEARCH, GRID_SEARCH


def tuning_result(
    target: Any,
    case: str,
    settings: Callable,
    config_values: Mapping[str, Channel],
    dataset: Channel,
    study: TuningStudy,
    resources: Any,
    after: dsl.PipelineTask,
) -> Channel:
    """The study result training applies: the target's study when tuning_trials > 0, else {}.

    `settings` is the case's trial_settings component, called with `config_values` (the
    training config's parameters) so that the trials train as the pipeline would; the
    study starts `after` that task (the data checks: no trial trains on refused data).
    """
    with dsl.If(study.tuning_trials > 0, name="tuning"):
        start = settings(**config_values).set_display_name("trial-settings").after(after)
        tuned = target.tune(case, dataset, start.output, study, resources)
    with dsl.Else(name="no-tuning"):
        untuned = no_tuning().set_display_name("no-tuning")
    return dsl.OneOf(tuned, untuned.output)


def local_study(case: str, dataset: Channel, settings: Channel, study: TuningStudy) -> Channel:
    """The whole study as one step on this machine (trials as local processes)."""
    task = tune_locally(
        dataset=dataset,
        case=case,
        settings=settings,
        tuning_trials=study.tuning_trials,
        tuning_parallel_trials=study.tuning_parallel_trials,
        tuning_space=study.tuning_space,
        tuning_metric=study.tuning_metric,
        tuning_algorithm=study.tuning_algorithm,
    )
    return task.set_display_name("tune").outputs["Output"]


def vertex_study(
    case: str,
    dataset: Channel,
    settings: Channel,
    study: TuningStudy,
    resources: Any,
    output_directory: str,
) -> Channel:
    """GCPC's HyperparameterTuningJobRunOp on the training machine type, then its trials read
    back. Only a study whose trials all fail fails (max_failed_trial_count = the trials).
    Vertex AI writes trial <id>'s outputs under `output_directory`/<id>/."""
    inputs = tuning_job_inputs(
        dataset=dataset,
        case=case,
        settings=settings,
        tuning_space=study.tuning_space,
        tuning_metric=study.tuning_metric,
        image=PIPELINE_IMAGE,
        machine_type=resources.train_machine_type,
        accelerator_type=resources.train_accelerator_type,
        accelerator_count=resources.train_accelerator_count,
    ).set_display_name("tuning-job-inputs")
    job = HyperparameterTuningJobRunOp(
        display_name=f"tune-{case}",
        base_output_directory=output_directory,
        worker_pool_specs=inputs.outputs["worker_pool_specs"],
        study_spec_metrics=inputs.outputs["study_spec_metrics"],
        study_spec_parameters=inputs.outputs["study_spec_parameters"],
        max_trial_count=study.tuning_trials,
        parallel_trial_count=study.tuning_parallel_trials,
        max_failed_trial_count=study.tuning_trials,
        study_spec_algorithm=study.tuning_algorithm,
        location=LOCATION_PLACEHOLDER,
        service_account=SERVICE_ACCOUNT_PLACEHOLDER,
        network=NETWORK_PLACEHOLDER,
    ).set_display_name("tune")
    best = best_trial(
        gcp_resources=job.outputs["gcp_resources"],
        metric=inputs.outputs["metric"],
        goal=inputs.outputs["goal"],
    )
    return best.set_display_name("best-trial").output
