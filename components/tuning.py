"""Tuning before training: a study of the case study's own training, and its best trial's values.

Locally `tune_locally` runs the whole study (trainer.tuning.trials); on Vertex AI
`tuning_job_inputs` builds the inputs of GCPC's HyperparameterTuningJobRunOp and
`best_trial` reads the finished job back. Each returns the study result
(trainer.tuning.result) that the training step applies over its config; `no_tuning`
returns `{}`, the result of a run with tuning_trials=0.
"""

from typing import NamedTuple

from kfp import dsl
from kfp.dsl import Artifact, Dataset, Input, Output

from components.container_images import PIPELINE_IMAGE


@dsl.component(base_image=PIPELINE_IMAGE, install_kfp_package=False)
def tune_locally(
    dataset: Input[Dataset],
    study: Output[Artifact],
    case: str,
    settings: dict,
    tuning_trials: int,
    tuning_parallel_trials: int,
    tuning_space: dict,
    tuning_metric: str,
    tuning_algorithm: str,
) -> dict:
    """Runs `tuning_trials` trials of `case`'s training on `dataset`, `tuning_parallel_trials` at
    a time, each `python -m trainer.task` in its own process and directory.

    In: settings (the trial_settings step's), the search space ({}: the case's), the metric
    ("": the case's) and Vertex AI's algorithm name. Out: study (the study directory: Optuna's
    journal, trials/<id>/ with each trial's log and metric, result.json) and the study result.
    """
    from serving.contracts.logs import setup_logging
    from trainer.tuning.trials import tune_case

    setup_logging()
    return tune_case(
        case,
        dataset.path,
        settings,
        study.path,
        trials=tuning_trials,
        parallel_trials=tuning_parallel_trials,
        space=tuning_space,
        metric=tuning_metric,
        algorithm=tuning_algorithm,
    )


@dsl.component(base_image=PIPELINE_IMAGE, install_kfp_package=False)
def tuning_job_inputs(
    dataset: Input[Dataset],
    case: str,
    settings: dict,
    tuning_space: dict,
    tuning_metric: str,
    image: str,
    machine_type: str,
    accelerator_type: str,
    accelerator_count: int,
) -> NamedTuple(
    "JobInputs",
    worker_pool_specs=list,
    study_spec_parameters=list,
    study_spec_metrics=list,
    metric=str,
    goal=str,
):
    """Vertex AI only: the HyperparameterTuningJob's trial pool (`image` running trainer.task on
    `dataset`, on the training machine) and its parameter and metric specs (GCPC's serialize
    helpers), with the metric's name and goal for `best_trial`."""
    from collections import namedtuple

    from trainer.distribution.worker_pools import machine_spec
    from trainer.tuning.vertex_study import job_inputs

    machine = machine_spec(machine_type, accelerator_type, accelerator_count)
    inputs = job_inputs(case, dataset.uri, settings, tuning_space, tuning_metric, image, machine)
    outputs = namedtuple("JobInputs", list(inputs))
    return outputs(**inputs)


@dsl.component(base_image=PIPELINE_IMAGE, install_kfp_package=False)
def best_trial(gcp_resources: str, metric: str, goal: str) -> dict:
    """Vertex AI only: the finished HyperparameterTuningJob of `gcp_resources` (GCPC's job op
    output) read from JobService: every trial and the best by `metric` and `goal`."""
    from serving.contracts.logs import setup_logging
    from trainer.tuning.vertex_study import read_study

    setup_logging()
    return read_study(gcp_resources, metric, goal)


@dsl.component(base_image=PIPELINE_IMAGE, install_kfp_package=False)
def no_tuning() -> dict:
    """The study result of a run without tuning (tuning_trials=0): `{}`, the config as given."""
    return {}
