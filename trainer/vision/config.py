"""The vision case study's training settings: the one declaration of each, with its default."""

from __future__ import annotations

from dataclasses import dataclass

from serving.contracts.errors import InputError
from trainer.distribution.options import DistributionOptions


@dataclass(frozen=True)
class VisionTrainConfig(DistributionOptions):
    base_model: str = "resnet50"
    base_weights: str = "imagenet"
    image_size: int = 224
    batch_size: int = 32  # per replica
    head_epochs: int = 10
    fine_tune_epochs: int = 5
    fine_tune_layers: int = 30
    learning_rate: float = 1e-3
    fine_tune_learning_rate: float = 1e-4
    head_units: int = 128
    dropout: float = 0.2
    augment_flip: str = "horizontal"
    augment_rotation: float = 0.1
    augment_zoom: float = 0.1
    early_stopping_patience: int = 3
    cv_folds: int = 0
    seed: int = 42

    def check(self) -> None:
        self.check_distribution()
        positive = ("image_size", "batch_size", "head_epochs", "head_units")
        for name in positive:
            if getattr(self, name) <= 0:
                raise InputError(f"{name} must be positive, got {getattr(self, name)}.")
        for name in ("learning_rate", "fine_tune_learning_rate"):
            if getattr(self, name) <= 0:
                raise InputError(f"{name} must be positive, got {getattr(self, name)}.")
        if not 0 <= self.dropout < 1:
            raise InputError(f"dropout must be in [0, 1), got {self.dropout}.")
        if self.augment_rotation < 0 or self.augment_zoom < 0:
            raise InputError("augment_rotation and augment_zoom must be 0 (off) or positive.")
        if self.fine_tune_epochs < 0 or self.fine_tune_layers < 0:
            raise InputError("fine_tune_epochs and fine_tune_layers must be 0 or more.")
        if self.cv_folds == 1 or self.cv_folds < 0:
            raise InputError(f"cv_folds must be 0 (off) or at least 2, got {self.cv_folds}.")
        if self.augment_flip not in {"horizontal", "vertical", "horizontal_and_vertical", "none"}:
            raise InputError(
                f"augment_flip {self.augment_flip!r} is not one of horizontal, vertical, "
                "horizontal_and_vertical, none."
            )
