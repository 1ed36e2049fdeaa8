"""Image classification with transfer learning: ingest -> train -> evaluate -> deploy if blessed."""

from typing import NamedTuple

from google_cloud_pipeline_components.types.artifact_types import UnmanagedContainerModel
from kfp import dsl
from kfp.dsl import Dataset, Metrics

from components.evaluate_image_classifier import evaluate_image_classifier
from components.images import SERVING_IMAGE
from components.ingest_image_folder import ingest_image_folder
from components.register_model_locally import register_model_locally
from components.train_image_classifier import train_image_classifier

PIPELINE_NAME = "image-classification"


class VisionOutputs(NamedTuple):
    dataset: Dataset
    model: UnmanagedContainerModel
    evaluation: Metrics


@dsl.pipeline(name=PIPELINE_NAME, description=__doc__)
def vision_pipeline(
    source_uri: str,
    registry_uri: str,
    model_name: str = "vision",
    base_model: str = "resnet50",
    base_weights: str = "imagenet",
    image_size: int = 224,
    batch_size: int = 32,
    head_epochs: int = 10,
    fine_tune_epochs: int = 5,
    fine_tune_layers: int = 30,
    learning_rate: float = 0.001,
    fine_tune_learning_rate: float = 0.0001,
    augment_flip: str = "horizontal",
    cv_folds: int = 0,
    validation_fraction: float = 0.15,
    test_fraction: float = 0.15,
    min_images_per_class: int = 10,
    accuracy_threshold: float = 0.8,
    seed: int = 42,
    serving_image: str = SERVING_IMAGE,
) -> VisionOutputs:
    ingest = ingest_image_folder(
        source_uri=source_uri,
        validation_fraction=validation_fraction,
        test_fraction=test_fraction,
        min_images_per_class=min_images_per_class,
    ).set_display_name("ingest")
    train = train_image_classifier(
        dataset=ingest.outputs["dataset"],
        base_model=base_model,
        base_weights=base_weights,
        image_size=image_size,
        batch_size=batch_size,
        head_epochs=head_epochs,
        fine_tune_epochs=fine_tune_epochs,
        fine_tune_layers=fine_tune_layers,
        learning_rate=learning_rate,
        fine_tune_learning_rate=fine_tune_learning_rate,
        augment_flip=augment_flip,
        cv_folds=cv_folds,
        seed=seed,
        serving_image=serving_image,
    ).set_display_name("train")
    evaluate = evaluate_image_classifier(
        model=train.outputs["model"],
        dataset=ingest.outputs["dataset"],
        accuracy_threshold=accuracy_threshold,
    ).set_display_name("evaluate")
    with dsl.If(evaluate.outputs["Output"] == True, name="blessed"):  # noqa: E712 (kfp condition)
        register_model_locally(
            model=train.outputs["model"], registry_uri=registry_uri, model_name=model_name
        ).set_display_name("deploy")
    return VisionOutputs(
        ingest.outputs["dataset"], train.outputs["model"], evaluate.outputs["metrics"]
    )
