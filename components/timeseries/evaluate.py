"""Evaluate: forecaster + Dataset -> Metrics, an HTML report and the blessing."""

from google_cloud_pipeline_components.types.artifact_types import UnmanagedContainerModel
from kfp import dsl
from kfp.dsl import HTML, Dataset, Input, Metrics, Output

from components.container_images import PIPELINE_IMAGE


@dsl.component(base_image=PIPELINE_IMAGE, install_kfp_package=False)
def evaluate_forecaster(
    model: Input[UnmanagedContainerModel],
    dataset: Input[Dataset],
    metrics: Output[Metrics],
    report: Output[HTML],
    season_length: int = 0,
    baseline_margin: float = 0.05,
    champion_uri: str = "",
    regression_tolerance: float = 0.01,
) -> bool:
    """Scores the model on the test range against the seasonal-naive baseline.

    Out: metrics (MAE, RMSE, MASE of the model and the baseline, the windows
    scored and those left out for an imputed target, the decision and why),
    report (HTML with the forecast-vs-actual plot); returns blessed (the
    model's MAE beats the baseline's by `baseline_margin`, and is no more than
    `regression_tolerance` above the MAE of the champion at `champion_uri`).
    The blessing is the single return value ("Output"): the kfp 2.17 local
    runner reads only that one in a dsl.If condition.
    """
    import json

    from serving.contracts.logs import setup_logging
    from trainer.timeseries.evaluation import evaluate_forecaster as evaluate

    setup_logging()
    report.uri += ".html"  # so that a browser opens the file as a page, locally too
    result = evaluate(
        model.path,
        dataset.path,
        season_length,
        baseline_margin,
        report_path=report.path,
        champion_dir=champion_uri,
        regression_tolerance=regression_tolerance,
    )
    # num_windows were scored (targets all observed); num_windows_imputed were left out.
    counts = ("num_windows", "num_windows_imputed", "num_targets")
    for name in ("mae", "rmse", "mase", *counts, "season_length"):
        metrics.log_metric(name, result[name])
    for name in ("mae", "rmse", "mase"):
        metrics.log_metric(f"baseline_{name}", result["baseline"][name])
    metrics.metadata.update(
        {
            "blessed": result["blessed"],
            "reason": result["reason"],
            "mae_by_step": json.dumps(result["mae_by_step"]),
            "champion": json.dumps(result["champion"]),
        }
    )
    return result["blessed"]
