"""The timeseries case study's training settings: one declaration each, with default and limits."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Annotated

import pandas as pd
from pandas.tseries.frequencies import to_offset

from serving.contracts.errors import InputError
from serving.contracts.limits import SEED, Limit, fraction, one_of
from trainer.distribution.options import EPOCHS, LEARNING_RATE, DistributionOptions
from trainer.timeseries.windowing import WindowSpec

IMPUTATIONS = ("forward_fill", "interpolate")

# Backpropagation through time keeps about 6 floats (4 gates, cell and output) per unit, step,
# layer and window of a batch; above this a batch outgrows the 16 GiB a training machine
# (n1-standard-8, or a laptop) gives it.
ACTIVATION_BYTES_PER_UNIT_STEP = 6 * 4
MAX_ACTIVATION_BYTES = 16 * 2**30


@dataclass(frozen=True)
class TimeseriesTrainConfig(DistributionOptions):
    time_column: str = "ts"
    target_column: str = "value"
    frequency: str = ""  # pandas alias ("h", "D"); inferred from the data when empty
    imputation: Annotated[str, one_of(*IMPUTATIONS)] = "interpolate"
    # largest imputed share of the series or a range of it
    max_imputed_fraction: Annotated[float, fraction()] = 0.2
    window: Annotated[int, Limit(1, 10_000, advice="input steps")] = 48
    horizon: Annotated[int, Limit(1, 1_000, advice="forecast steps")] = 1
    stride: Annotated[int, Limit(1, 10_000, advice="steps between windows")] = 1
    lstm_units: Annotated[int, Limit(1, 2048)] = 50
    lstm_layers: Annotated[int, Limit(1, 16)] = 2
    dropout: Annotated[float, fraction(high_open=True)] = 0.2
    batch_size: Annotated[int, Limit(1, 65_536, advice="windows per replica")] = 64
    epochs: Annotated[int, EPOCHS] = 20
    learning_rate: Annotated[float, LEARNING_RATE] = 1e-3
    early_stopping_patience: Annotated[int, Limit(0, EPOCHS.high)] = 3
    test_fraction: Annotated[float, fraction(low_open=True, high_open=True)] = 0.1
    cv_folds: Annotated[int, Limit(0, 20, advice="0: off")] = 3
    seed: Annotated[int, SEED] = 42

    def check(self) -> None:
        super().check()
        if self.frequency:
            check_frequency(self.frequency)
        if not self.time_column or not self.target_column:
            raise InputError("time_column and target_column must name columns of the dataset.")
        self.spec  # noqa: B018 (WindowSpec validates window, horizon and stride)
        needed = (
            self.batch_size
            * self.window
            * self.lstm_units
            * self.lstm_layers
            * ACTIVATION_BYTES_PER_UNIT_STEP
        )
        if needed > MAX_ACTIVATION_BYTES:
            raise InputError(
                f"batch_size={self.batch_size} x window={self.window} x "
                f"lstm_units={self.lstm_units} x lstm_layers={self.lstm_layers} needs about "
                f"{needed / 2**30:.0f} GiB of activations in training: more than the "
                f"{MAX_ACTIVATION_BYTES // 2**30} GiB a training machine gives it. "
                "Lower one of them."
            )

    @property
    def spec(self) -> WindowSpec:
        return WindowSpec(self.window, self.horizon, self.stride)


def check_frequency(frequency: str) -> pd.DateOffset:
    """The pandas offset of alias `frequency` ("h", "D"), or InputError saying what is one."""
    try:
        offset = to_offset(frequency)
    except (ValueError, TypeError):
        offset = None
    if offset is None or offset.n <= 0:
        raise InputError(
            f"frequency {frequency!r} is not a pandas offset alias of a step forward: use e.g. "
            "'h', '15min', 'D', 'W' or 'MS', or leave it empty to infer it."
        )
    return offset
