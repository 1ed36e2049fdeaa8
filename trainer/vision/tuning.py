"""What the vision case study tunes by default: its search space, metric and trial budget."""

from trainer.tuning.space import Tuning

TUNING = Tuning(
    metrics={"val_accuracy": "maximize", "head_val_accuracy": "maximize"},
    space={
        "learning_rate": {"min": 1e-4, "max": 1e-2, "scale": "log"},
        "dropout": {"min": 0.0, "max": 0.5},
        "head_units": {"values": [64, 128, 256]},
    },
    budget={"head_epochs": 3, "fine_tune_epochs": 1},  # a trial trains this much at most
)
