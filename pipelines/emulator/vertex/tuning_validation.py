"""What Vertex AI refuses in a HyperparameterTuningJob before it accepts it (INVALID_ARGUMENT).

The study spec (metrics with goals, parameter specs with ranges, grid search only over
discrete parameters), the counts, and the trial job spec (its worker pools, as a custom
job's are checked). The emulator studies one metric; a multi-metric study is refused by
name rather than run as something else.
"""

from __future__ import annotations

from google.cloud import aiplatform_v1 as v1

from pipelines.emulator.vertex.validation import check_custom_job, check_display_name, invalid

_SPEC_KINDS = (
    "double_value_spec",
    "integer_value_spec",
    "categorical_value_spec",
    "discrete_value_spec",
)
_Goal = v1.StudySpec.MetricSpec.GoalType
_Algorithm = v1.StudySpec.Algorithm
_Scale = v1.StudySpec.ParameterSpec.ScaleType


def check_tuning_job(job: v1.HyperparameterTuningJob) -> None:
    check_display_name(job.display_name, "HyperparameterTuningJob")
    study = job.study_spec
    if not study.metrics:
        raise invalid("HyperparameterTuningJob.study_spec.metrics must contain a metric.")
    if len(study.metrics) > 1:
        raise invalid("The emulator runs single-metric studies: give study_spec.metrics one.")
    for metric in study.metrics:
        if not metric.metric_id:
            raise invalid("study_spec.metrics[0].metric_id is required.")
        if metric.goal == _Goal.GOAL_TYPE_UNSPECIFIED:
            raise invalid(f"study_spec.metrics[0] ({metric.metric_id}) needs a goal.")
    if not study.parameters:
        raise invalid("HyperparameterTuningJob.study_spec.parameters must contain a parameter.")
    ids = [p.parameter_id for p in study.parameters]
    if len(set(ids)) != len(ids) or not all(ids):
        raise invalid(f"study_spec.parameters need distinct, non-empty parameter_ids: {ids}.")
    for parameter in study.parameters:
        _check_parameter(parameter, study.algorithm)
    if job.max_trial_count < 1:
        raise invalid("HyperparameterTuningJob.max_trial_count must be positive.")
    if job.parallel_trial_count < 1:
        raise invalid("HyperparameterTuningJob.parallel_trial_count must be positive.")
    if job.max_failed_trial_count < 0:
        raise invalid("HyperparameterTuningJob.max_failed_trial_count must not be negative.")
    check_custom_job(v1.CustomJob(display_name=job.display_name, job_spec=job.trial_job_spec))


def _check_parameter(parameter: v1.StudySpec.ParameterSpec, algorithm: _Algorithm) -> None:
    where = f"study_spec.parameters[{parameter.parameter_id}]"
    kinds = [kind for kind in _SPEC_KINDS if kind in parameter]
    if len(kinds) != 1:
        raise invalid(f"{where} needs exactly one of {', '.join(_SPEC_KINDS)}.")
    kind = kinds[0]
    spec = getattr(parameter, kind)
    if kind in ("double_value_spec", "integer_value_spec"):
        if not spec.min_value < spec.max_value:
            raise invalid(f"{where}: min_value {spec.min_value} must be below max_value.")
        log = parameter.scale_type in (_Scale.UNIT_LOG_SCALE, _Scale.UNIT_REVERSE_LOG_SCALE)
        if log and spec.min_value <= 0:
            raise invalid(f"{where}: a log scale needs min_value > 0.")
    elif not spec.values:
        raise invalid(f"{where}: {kind}.values must not be empty.")
    elif len(set(spec.values)) != len(spec.values):
        raise invalid(f"{where}: {kind}.values must be distinct.")
    if algorithm == _Algorithm.GRID_SEARCH and kind == "double_value_spec":
        raise invalid(
            f"{where}: GRID_SEARCH takes integer, categorical and discrete parameters only."
        )
