"""Evaluate: Model + Dataset -> Metrics, ClassificationMetrics and the blessing."""

from google_cloud_pipeline_components.types.artifact_types import UnmanagedContainerModel
from kfp import dsl
from kfp.dsl import HTML, ClassificationMetrics, Dataset, Input, Metrics, Output

from components.container_images import PIPELINE_IMAGE


@dsl.component(base_image=PIPELINE_IMAGE, install_kfp_package=False)
def evaluate_image_classifier(
    model: Input[UnmanagedContainerModel],
    dataset: Input[Dataset],
    metrics: Output[Metrics],
    classification_metrics: Output[ClassificationMetrics],
    report: Output[HTML],
    accuracy_threshold: float = 0.8,
    champion_uri: str = "",
    regression_tolerance: float = 0.01,
) -> bool:
    """Scores the exported model on the test split through its serving signature.

    Out: metrics (accuracy, per-class precision/recall, the champion's accuracy
    on the same images, the decision and why), classification_metrics (confusion
    matrix), report (HTML: scores, confusion matrix, champion, training curves);
    returns blessed (accuracy >= threshold, and no worse than the
    champion at `champion_uri` by more than `regression_tolerance`).

    The blessing is the single return value ("Output") on purpose: the kfp 2.17
    local runner resolves a task output in a dsl.If condition only under that
    name, and silently treats a named output as false.
    """
    import json

    from serving.contracts.logs import setup_logging
    from trainer.vision.evaluation import evaluate_image_classifier as evaluate

    setup_logging()
    report.uri += ".html"  # so that a browser opens the file as a page, locally too
    result = evaluate(
        model.path,
        dataset.path,
        accuracy_threshold,
        champion_dir=champion_uri,
        regression_tolerance=regression_tolerance,
        report_path=report.path,
    )
    metrics.log_metric("accuracy", result["accuracy"])
    metrics.log_metric("num_examples", result["num_examples"])
    metrics.log_metric("threshold", accuracy_threshold)
    metrics.metadata.update(
        {
            "blessed": result["blessed"],
            "reason": result["reason"],
            "per_class": json.dumps(result["per_class"]),
            "champion": json.dumps(result["champion"]),
        }
    )
    classification_metrics.log_confusion_matrix(result["classes"], result["confusion_matrix"])
    return result["blessed"]
