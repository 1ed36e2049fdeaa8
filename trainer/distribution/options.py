"""The distribution settings every training config has: one flag and one pipeline parameter each.

Also `pick_fields`, how a component or a pipeline hands its parameters to a
config without listing them. No TensorFlow here: configs are read by commands
and tests that do not train.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, fields
from types import ModuleType
from typing import Annotated

from serving.contracts.limits import Limit, check_fields, one_of

STRATEGIES = ("auto", "default", "mirrored", "multi_worker", "tpu")
LEARNING_RATE_SCALING = ("linear", "sqrt", "none")
# Limits the case studies' configs share.
EPOCHS = Limit(1, 10_000)
LEARNING_RATE = Limit(0, 1, low_open=True)


@dataclass(frozen=True)
class DistributionOptions:
    """The distribution fields every training config has (one command-line flag each)."""

    strategy: Annotated[
        str, one_of(*STRATEGIES, advice="auto chooses from TF_CONFIG, TPU_NAME and the GPUs")
    ] = "auto"
    # learning_rate with the replicas
    learning_rate_scaling: Annotated[str, one_of(*LEARNING_RATE_SCALING)] = "linear"
    # BackupAndRestore every N steps; 0: every epoch
    checkpoint_every_steps: Annotated[int, Limit(0, 10**9, advice="0: every epoch")] = 0

    def check(self) -> None:
        """InputError naming every field outside its declared limit (a config adds its own
        rules across fields)."""
        check_fields(self)


def pick_fields(config: type, values: Mapping[str, object]) -> dict[str, object]:
    """The values of dataclass `config`'s fields, by name, from `values` (others are ignored).

    `values` is typically a component's or a pipeline's `locals()`: its parameters,
    which must include every field, plus whatever else it has defined.
    """
    names = [field.name for field in fields(config)]
    missing = [name for name in names if name not in values]
    if missing:
        raise TypeError(
            f"{config.__name__} fields {', '.join(missing)} are not among the parameters given: "
            "declare each as a parameter, with the field's name, type and default."
        )
    # A function, class or module of that name in locals() is not the parameter: refuse it.
    shadowed = [
        name for name in names if callable(values[name]) or isinstance(values[name], ModuleType)
    ]
    if shadowed:
        raise TypeError(
            f"{config.__name__} fields {', '.join(shadowed)} name something else that was "
            "defined or imported there, not a parameter: rename that local name."
        )
    return {name: values[name] for name in names}
