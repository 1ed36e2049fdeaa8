"""The vision case study's training settings: one declaration of each, its default and limits."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Annotated

from serving.contracts.errors import InputError
from serving.contracts.limits import SEED, Limit, check_values, fraction, one_of
from serving.contracts.splits import SPLIT_FRACTION, check_fractions
from trainer.distribution.options import EPOCHS, LEARNING_RATE, DistributionOptions

# Training keeps about 2 KiB of activations per input pixel (ResNet50 at 224 x 224 x 32 images:
# some 3 GiB); a batch above this many pixels would outgrow the 16 GiB a training machine
# (n1-standard-8, or a laptop) gives it.
ACTIVATION_BYTES_PER_PIXEL = 2048
MAX_PIXELS_PER_BATCH = 8 * 1024 * 1024
AUGMENT_FLIPS = ("horizontal", "vertical", "horizontal_and_vertical", "none")
# The Keras applications trainer.vision.model builds (its BASES).
BASE_MODELS = (
    "resnet50",
    "mobilenet_v2",
    "mobilenet_v3_small",
    "mobilenet_v3_small_minimalistic",
    "efficientnet_b0",
)


@dataclass(frozen=True)
class VisionTrainConfig(DistributionOptions):
    base_model: Annotated[str, one_of(*BASE_MODELS)] = "resnet50"
    base_weights: str = "imagenet"
    image_size: Annotated[
        int, Limit(32, 1024, advice="pixels per side; the base models are pretrained at 224")
    ] = 224
    batch_size: Annotated[int, Limit(1, 4096, advice="images per replica")] = 32
    head_epochs: Annotated[int, EPOCHS] = 10
    fine_tune_epochs: Annotated[int, Limit(0, EPOCHS.high, advice="0: no fine-tuning")] = 5
    fine_tune_layers: Annotated[int, Limit(0, 1000, advice="top layers of the base")] = 30
    learning_rate: Annotated[float, LEARNING_RATE] = 1e-3
    fine_tune_learning_rate: Annotated[float, LEARNING_RATE] = 1e-4
    head_units: Annotated[int, Limit(1, 8192)] = 128
    dropout: Annotated[float, fraction(high_open=True)] = 0.2
    augment_flip: Annotated[str, one_of(*AUGMENT_FLIPS)] = "horizontal"
    augment_rotation: Annotated[float, Limit(0, 1, advice="a share of a full turn; 0: off")] = 0.1
    augment_zoom: Annotated[float, fraction(high_open=True, advice="0: off")] = 0.1
    early_stopping_patience: Annotated[int, Limit(0, EPOCHS.high)] = 3
    cv_folds: Annotated[int, Limit(0, 20, advice="0: off, else at least 2")] = 0
    seed: Annotated[int, SEED] = 42

    def check(self) -> None:
        super().check()
        if self.cv_folds == 1:
            raise InputError("cv_folds=1 is out of range: it must be 0 (off) or from 2 to 20.")
        pixels = self.batch_size * self.image_size**2
        if pixels > MAX_PIXELS_PER_BATCH:
            raise InputError(
                f"batch_size={self.batch_size} x image_size={self.image_size}² is {pixels:,} "
                f"pixels per batch, about {pixels * ACTIVATION_BYTES_PER_PIXEL / 2**30:.0f} GiB of "
                "activations in training: more than the "
                f"{MAX_PIXELS_PER_BATCH * ACTIVATION_BYTES_PER_PIXEL // 2**30} GiB a training "
                "machine gives it. Lower batch_size or image_size."
            )


# The ingest step's options (trainer.vision.ingest), checked by it and by the commands.
INGEST_LIMITS = {
    "validation_fraction": SPLIT_FRACTION,
    "test_fraction": SPLIT_FRACTION,
    "min_images_per_class": Limit(1, 10**6),
}


def check_ingest_options(
    validation_fraction: float = 0.15, test_fraction: float = 0.15, min_images_per_class: int = 10
) -> None:
    """InputError for ingest options out of their limits, or fractions leaving no training."""
    check_values({"min_images_per_class": min_images_per_class}, INGEST_LIMITS)
    check_fractions(validation_fraction, test_fraction)
