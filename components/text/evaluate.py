"""Evaluate: text classifier + Dataset -> Metrics, ClassificationMetrics and the blessing."""

from google_cloud_pipeline_components.types.artifact_types import UnmanagedContainerModel
from kfp import dsl
from kfp.dsl import HTML, ClassificationMetrics, Dataset, Input, Metrics, Output

from components.container_images import PIPELINE_IMAGE


@dsl.component(base_image=PIPELINE_IMAGE, install_kfp_package=False)
def evaluate_text_classifier(
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

    Out: metrics (accuracy, macro precision/recall/F1, ROC AUC for two classes,
    the majority-class baseline, the decision and why), classification_metrics
    (confusion matrix), report (HTML page); returns blessed (accuracy >= threshold, above the
    baseline, and no worse than the champion at `champion_uri` by more than
    `regression_tolerance`). The blessing is the single return value ("Output"):
    the kfp 2.17 local runner reads only that one in a dsl.If condition.
    """
    import json

    from serving.contracts.logs import setup_logging
    from trainer.text.evaluation import evaluate_text_classifier as evaluate

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
    for name in ("accuracy", "macro_f1", "macro_precision", "macro_recall", "roc_auc"):
        if name in result:
            metrics.log_metric(name, result[name])
    metrics.log_metric("baseline_accuracy", result["baseline_accuracy"])
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
