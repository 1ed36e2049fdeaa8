"""Train: Dataset of texts -> classifier on a TF Hub embedding (SavedModel) + Metrics."""

from google_cloud_pipeline_components.types.artifact_types import UnmanagedContainerModel
from kfp import dsl
from kfp.dsl import Dataset, Input, Metrics, Output

from components.container_images import PIPELINE_IMAGE


@dsl.component(base_image=PIPELINE_IMAGE, install_kfp_package=False)
def train_text_classifier(
    dataset: Input[Dataset],
    model: Output[UnmanagedContainerModel],
    metrics: Output[Metrics],
    serving_image: str,
    hub_handle: str = "https://tfhub.dev/google/universal-sentence-encoder/4",
    trainable: bool = True,
    hidden_units: int = 16,
    dropout: float = 0.2,
    batch_size: int = 32,
    epochs: int = 10,
    learning_rate: float = 0.001,
    seed: int = 42,
):
    """hub.KerasLayer(hub_handle, trainable=...) + Dense layers, early-stopped on validation loss.

    The handle is checked (it loads and embeds strings) before training. Out:
    model (SavedModel whose serving_default takes raw strings and returns
    probabilities and labels; it embeds the hub module, so serving needs no
    download), typed google.UnmanagedContainerModel with `serving_image` as its
    container; metrics (validation accuracy and loss, epochs trained).
    """
    from serving.contracts.logs import setup_logging
    from serving.registry.container_spec import container_spec
    from trainer.distribution.job_dirs import output_dirs
    from trainer.text.config import TextTrainConfig
    from trainer.text.training import train_text_classifier as train

    setup_logging()
    config = TextTrainConfig(
        hub_handle=hub_handle,
        trainable=trainable,
        hidden_units=hidden_units,
        dropout=dropout,
        batch_size=batch_size,
        epochs=epochs,
        learning_rate=learning_rate,
        seed=seed,
    )
    # TensorBoard and checkpoint dirs from AIP_* on a Vertex AI custom job; none locally
    dirs = output_dirs(model_dir=model.path)
    scores = train(
        dataset.path,
        model.path,
        config,
        tensorboard_dir=dirs.tensorboard_dir,
        checkpoint_dir=dirs.checkpoint_dir,
    )
    model.metadata.update(
        {"containerSpec": container_spec(serving_image), "framework": "tensorflow"}
    )
    for name, value in scores.items():
        metrics.log_metric(name, value)
