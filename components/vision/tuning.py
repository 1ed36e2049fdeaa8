"""Tuning (before training): the training settings a trial of the vision study starts from."""

from kfp import dsl

from components.container_images import PIPELINE_IMAGE


@dsl.component(base_image=PIPELINE_IMAGE, install_kfp_package=False)
def trial_settings(
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
) -> dict:
    """The pipeline's training settings as one value, checked, for the tuning step.

    Out: VisionTrainConfig's fields by name (the trials cap them to the case's budget and set
    the searched ones, trainer/vision/tuning.py). The parameters are its fields, with its
    defaults, as in train.py.
    """
    import dataclasses

    from trainer.distribution.options import pick_fields
    from trainer.vision.config import VisionTrainConfig

    config = VisionTrainConfig(**pick_fields(VisionTrainConfig, locals()))
    config.check()
    return dataclasses.asdict(config)
