"""Train: Dataset -> transfer-learning image classifier (SavedModel) + Metrics."""

from google_cloud_pipeline_components.types.artifact_types import UnmanagedContainerModel
from kfp import dsl
from kfp.dsl import Artifact, Dataset, Input, Metrics, Output

from components.container_images import PIPELINE_IMAGE


@dsl.component(base_image=PIPELINE_IMAGE, install_kfp_package=False)
def train_image_classifier(
    dataset: Input[Dataset],
    data_baseline: Input[Artifact],
    model: Output[UnmanagedContainerModel],
    metrics: Output[Metrics],
    serving_image: str,
    request_log_uri: str,
    tuning_result: dict = {},  # noqa: B006 (the tuning step's; {}: not tuned)
    base_model: str = "resnet50",
    base_weights: str = "imagenet",
    image_size: int = 224,
    batch_size: int = 32,
    head_epochs: int = 10,
    fine_tune_epochs: int = 5,
    fine_tune_layers: int = 30,
    learning_rate: float = 0.001,
    fine_tune_learning_rate: float = 0.0001,
    head_units: int = 128,
    dropout: float = 0.2,
    augment_flip: str = "horizontal",
    augment_rotation: float = 0.1,
    augment_zoom: float = 0.1,
    early_stopping_patience: int = 3,
    cv_folds: int = 0,
    seed: int = 42,
    strategy: str = "auto",
    learning_rate_scaling: str = "linear",
    checkpoint_every_steps: int = 0,
):
    """Trains a frozen-base + new-head classifier, optionally fine-tunes the base top.

    `request_log_uri` (gs://, or "" for none) is where the served model's container writes
    its request-response log (`python -m serving --request-log`), which monitoring reads.

    `data_baseline` (the validation step's: the schema and statistics of the data)
    is kept in the model as data_baseline/, which the next run validates against.

    `tuning_result` (the tuning step's study result, {} without tuning): its best trial's
    values replace those parameters, and its trials table goes into the model's metadata.

    kfp runs this function's source, so defaults must be literals: the serving
    image's default lives in the pipeline's signature. The other parameters are
    VisionTrainConfig's fields, with its defaults.

    Out: model (SavedModel whose serving_default takes encoded image bytes, plus
    metadata.json), typed google.UnmanagedContainerModel with `serving_image` as
    its container so that Vertex's ModelUploadOp takes it as it is; metrics
    (validation accuracy, k-fold scores when cv_folds >= 2). On a Vertex AI
    custom job with a base output directory, TensorBoard logs also go to
    AIP_TENSORBOARD_LOG_DIR and resumable backups to AIP_CHECKPOINT_DIR.
    """
    from serving.contracts.logs import setup_logging
    from serving.registry.container_spec import container_spec
    from trainer.distribution.job_dirs import job_dirs
    from trainer.distribution.options import pick_fields
    from trainer.tuning.result import apply_tuning, record_tuning
    from trainer.vision.config import VisionTrainConfig
    from trainer.vision.training import train_image_classifier as train

    setup_logging()
    # Each config field is a parameter of this function: pick them by name from locals();
    # a tuned run's best trial values go over them.
    config = apply_tuning(
        VisionTrainConfig(**pick_fields(VisionTrainConfig, locals())), tuning_result
    )
    # TensorBoard and checkpoint dirs from AIP_* on a Vertex AI custom job; none locally
    dirs = job_dirs(model_dir=model.path)
    scores = train(
        dataset.path,
        model.path,
        config,
        tensorboard_dir=dirs.tensorboard_dir,
        checkpoint_dir=dirs.checkpoint_dir,
        data_baseline_dir=data_baseline.path,
    )
    record_tuning(model.path, tuning_result, config)  # the trials, in the model's metadata
    model.metadata.update(
        {
            "containerSpec": container_spec(serving_image, request_log_uri),
            "framework": "tensorflow",
            "base_model": config.base_model,
            "image_size": config.image_size,
        }
    )
    for name, value in scores.items():
        if isinstance(value, float):
            metrics.log_metric(name, value)
