"""The offline demo of each pipeline, by name: what `make run PIPELINE=<name>` runs.

Each demo module provides demo_run(build_dir, source, overrides), a context
manager yielding the run's arguments with whatever local stand-in it needs
running; summary(outputs, arguments), the lines printed after the run;
demo_task_args(build_dir), the `trainer.task` arguments that train its model
on the demo data without a pipeline (`make train`); and, for `make emulate`,
emulator_arguments(build_dir, overrides), the arguments of a run on the Vertex
AI emulator with the demo data put where a Vertex run reads it, and
example_instances(build_dir, arguments), a request its endpoint answers.
(timeseries also has demo_database(build_dir), which the emulator's BigQuery serves.)
"""

from collections.abc import Mapping
from types import ModuleType

from pipelines.local import text_demo, timeseries_demo, vision_demo

DEMOS: dict[str, ModuleType] = {
    "vision": vision_demo,
    "timeseries": timeseries_demo,
    "text": text_demo,
}


def task_flags(settings: Mapping[str, object]) -> list[str]:
    """--name=value flags of `trainer.task` for training settings."""
    return [f"--{name.replace('_', '-')}={value}" for name, value in settings.items()]
