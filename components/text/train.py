"""Train: Dataset of texts -> classifier on a TF Hub embedding (SavedModel) + Metrics."""

from google_cloud_pipeline_components.types.artifact_types import UnmanagedContainerModel
from kfp import dsl
from kfp.dsl import Artifact, Dataset, Input, Metrics, Output

from components.container_images import PIPELINE_IMAGE


@dsl.component(base_image=PIPELINE_IMAGE, install_kfp_package=False)
def train_text_classifier(
    dataset: Input[Dataset],
    data_baseline: Input[Artifact],
    model: Output[UnmanagedContainerModel],
    metrics: Output[Metrics],
    serving_image: str,
    request_log_uri: str,
    tuning_result: dict = {},  # noqa: B006 (the tuning step's; {}: not tuned)
    hub_handle: str = "https://tfhub.dev/google/universal-sentence-encoder/4",
    trainable: bool = True,
    hidden_units: int = 16,
    dropout: float = 0.2,
    batch_size: int = 32,
    epochs: int = 10,
    learning_rate: float = 0.001,
    early_stopping_patience: int = 3,
    seed: int = 42,
    strategy: str = "auto",
    learning_rate_scaling: str = "linear",
    checkpoint_every_steps: int = 0,
):
    """hub.KerasLayer(hub_handle, trainable=...) + Dense layers, early-stopped on validation loss.

    `request_log_uri` (gs://, or "" for none) is where the served model's container writes
    its request-response log (`python -m serving --request-log`), which monitoring reads.

    `data_baseline` (the validation step's: the schema and statistics of the data)
    is kept in the model as data_baseline/, which the next run validates against.

    `tuning_result` (the tuning step's study result, {} without tuning): its best trial's
    values replace those parameters, and its trials table goes into the model's metadata.

    The handle is checked (it loads and embeds strings) before training. Out:
    model (SavedModel whose serving_default takes raw strings and returns
    probabilities and labels; it embeds the hub module, so serving needs no
    download), typed google.UnmanagedContainerModel with `serving_image` as its
    container; metrics (validation accuracy and loss, epochs trained). The
    other parameters are TextTrainConfig's fields, with its defaults.
    """
    from serving.contracts.logs import setup_logging
    from serving.registry.container_spec import container_spec
    from trainer.distribution.job_dirs import job_dirs
    from trainer.distribution.options import pick_fields
    from trainer.text.config import TextTrainConfig
    from trainer.text.training import train_text_classifier as train
    from trainer.tuning.result import apply_tuning, record_tuning

    setup_logging()
    # Each config field is a parameter of this function: pick them by name from locals();
    # a tuned run's best trial values go over them.
    config = apply_tuning(TextTrainConfig(**pick_fields(TextTrainConfig, locals())), tuning_result)
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
        {"containerSpec": container_spec(serving_image, request_log_uri), "framework": "tensorflow"}
    )
    for name, value in scores.items():
        metrics.log_metric(name, value)
