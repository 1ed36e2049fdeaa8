"""What the timeseries case study tunes by default: its search space, metric and trial budget.

The default metric is the rolling-origin cross-validation MAE (cv_folds >= 2), not the
training MAE, which rewards overfitting.
"""

from trainer.tuning.space import Tuning

TUNING = Tuning(
    metrics={"cv_mae_mean": "minimize", "train_mae": "minimize"},
    space={
        "learning_rate": {"min": 1e-4, "max": 3e-2, "scale": "log"},
        "lstm_units": {"min": 8, "max": 128},
        "dropout": {"min": 0.0, "max": 0.5},
    },
    budget={"epochs": 5},  # a trial trains this much at most
    needs={"cv_mae_mean": ("cv_folds", 2)},  # cross-validation on 2 folds or more
)
