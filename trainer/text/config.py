"""The text case study's training settings: the one declaration of each, its default and limits."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Annotated

from serving.contracts.errors import InputError
from serving.contracts.limits import SEED, Limit, check_values, fraction
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


# The ingest step's options (trainer.text.ingest), checked by it and by the commands. Text
# allows a 0 fraction (that split stays empty), unlike the images' `check_fractions`.
INGEST_LIMITS = {
    "validation_fraction": fraction(high_open=True),
    "test_fraction": fraction(high_open=True),
    "max_chars": Limit(1, 10**6, advice="characters kept of each text"),
    "min_examples_per_class": Limit(1, 10**6),
}


def check_ingest_options(
    validation_fraction: float = 0.15,
    test_fraction: float = 0.15,
    max_chars: int = 2000,
    min_examples_per_class: int = 5,
) -> None:
    """InputError for ingest options out of their limits, or fractions leaving no training."""
    check_values(locals(), INGEST_LIMITS)
    if validation_fraction + test_fraction >= 1:
        raise InputError(
            f"validation_fraction + test_fraction = {validation_fraction} + {test_fraction} = "
            f"{validation_fraction + test_fraction:g} leaves nothing for training: "
            "their sum must be below 1."
        )
