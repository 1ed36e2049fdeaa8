"""What the text case study tunes by default: its search space, metric and trial budget."""

from trainer.tuning.space import Tuning

TUNING = Tuning(
    metrics={"val_accuracy": "maximize"},
    space={
        "learning_rate": {"min": 1e-4, "max": 1e-2, "scale": "log"},
        "dropout": {"min": 0.0, "max": 0.5},
        "hidden_units": {"min": 8, "max": 64},
    },
    budget={"epochs": 3},  # a trial trains this much at most
)
