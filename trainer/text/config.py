"""The text case study's training settings: the one declaration of each, with its default."""

from __future__ import annotations

from dataclasses import dataclass

from serving.contracts.errors import InputError
from trainer.distribution.options import DistributionOptions

DEFAULT_HANDLE = "https://tfhub.dev/google/universal-sentence-encoder/4"


@dataclass(frozen=True)
class TextTrainConfig(DistributionOptions):
    hub_handle: str = DEFAULT_HANDLE
    trainable: bool = True  # fine-tune the embedding with the head
    hidden_units: int = 16
    dropout: float = 0.2
    batch_size: int = 32  # per replica
    epochs: int = 10
    learning_rate: float = 1e-3
    early_stopping_patience: int = 3
    seed: int = 42

    def check(self) -> None:
        self.check_distribution()
        for name in ("hidden_units", "batch_size", "epochs"):
            if getattr(self, name) < 1:
                raise InputError(f"{name} must be at least 1, got {getattr(self, name)}.")
        if self.learning_rate <= 0:
            raise InputError(f"learning_rate must be positive, got {self.learning_rate}.")
        if not 0 <= self.dropout < 1:
            raise InputError(f"dropout must be in [0, 1), got {self.dropout}.")
