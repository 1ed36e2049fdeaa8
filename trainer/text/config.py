"""The text case study's training settings: the one declaration of each, its default and limits."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Annotated

from serving.contracts.limits import SEED, Limit, fraction
from trainer.distribution.options import EPOCHS, LEARNING_RATE, DistributionOptions

DEFAULT_HANDLE = "https://tfhub.dev/google/universal-sentence-encoder/4"


@dataclass(frozen=True)
class TextTrainConfig(DistributionOptions):
    hub_handle: str = DEFAULT_HANDLE
    trainable: bool = True  # fine-tune the embedding with the head
    hidden_units: Annotated[int, Limit(1, 8192)] = 16
    dropout: Annotated[float, fraction(high_open=True)] = 0.2
    batch_size: Annotated[int, Limit(1, 8192, advice="texts per replica")] = 32
    epochs: Annotated[int, EPOCHS] = 10
    learning_rate: Annotated[float, LEARNING_RATE] = 1e-3
    early_stopping_patience: Annotated[int, Limit(0, EPOCHS.high)] = 3
    seed: Annotated[int, SEED] = 42
