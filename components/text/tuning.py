"""Tuning (before training): the training settings a trial of the text study starts from."""

from kfp import dsl

from components.container_images import PIPELINE_IMAGE


@dsl.component(base_image=PIPELINE_IMAGE, install_kfp_package=False)
def trial_settings(
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
) -> dict:
    """The pipeline's training settings as one value, checked, for the tuning step.

    Out: TextTrainConfig's fields by name (the trials cap them to the case's budget and set
    the searched ones, trainer/text/tuning.py). The parameters are its fields, with its
    defaults, as in train.py.
    """
    import dataclasses

    from trainer.distribution.options import pick_fields
    from trainer.text.config import TextTrainConfig

    config = TextTrainConfig(**pick_fields(TextTrainConfig, locals()))
    config.check()
    return dataclasses.asdict(config)
