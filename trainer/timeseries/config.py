"""The timeseries case study's training settings: the one declaration of each, with its default."""

from __future__ import annotations

from dataclasses import dataclass

from serving.contracts.errors import InputError
from trainer.distribution.options import DistributionOptions
from trainer.timeseries.windowing import WindowSpec


@dataclass(frozen=True)
class TimeseriesTrainConfig(DistributionOptions):
    time_column: str = "ts"
    target_column: str = "value"
    frequency: str = ""  # pandas alias ("h", "D"); inferred from the data when empty
    imputation: str = "interpolate"  # or "forward_fill"
    window: int = 48
    horizon: int = 1
    stride: int = 1
    lstm_units: int = 50
    lstm_layers: int = 2
    dropout: float = 0.2
    batch_size: int = 64  # per replica
    epochs: int = 20
    learning_rate: float = 1e-3
    early_stopping_patience: int = 3
    test_fraction: float = 0.1
    cv_folds: int = 3
    seed: int = 42

    def check(self) -> None:
        self.check_distribution()
        for name in ("lstm_units", "lstm_layers", "batch_size", "epochs"):
            if getattr(self, name) < 1:
                raise InputError(f"{name} must be at least 1, got {getattr(self, name)}.")
        if self.learning_rate <= 0:
            raise InputError(f"learning_rate must be positive, got {self.learning_rate}.")
        if not 0 <= self.dropout < 1:
            raise InputError(f"dropout must be in [0, 1), got {self.dropout}.")
        if not 0 < self.test_fraction < 1:
            raise InputError(f"test_fraction must be in (0, 1), got {self.test_fraction}.")
        if self.cv_folds < 0:
            raise InputError(f"cv_folds must be 0 (off) or more, got {self.cv_folds}.")
        if not self.time_column or not self.target_column:
            raise InputError("time_column and target_column must name columns of the dataset.")
        self.spec  # noqa: B018 (WindowSpec validates window, horizon and stride)

    @property
    def spec(self) -> WindowSpec:
        return WindowSpec(self.window, self.horizon, self.stride)
