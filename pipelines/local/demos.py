"""The offline demo of each pipeline, by name: what `make run PIPELINE=<name>` runs.

Each demo module provides demo_run(build_dir, source, overrides), a context
manager yielding the run's arguments with whatever local stand-in it needs
running, and summary(outputs, arguments), the lines printed after the run.
"""

from types import ModuleType

from pipelines.local import text_demo, timeseries_demo, vision_demo

DEMOS: dict[str, ModuleType] = {
    "vision": vision_demo,
    "timeseries": timeseries_demo,
    "text": text_demo,
}
