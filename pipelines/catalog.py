"""Each case study's pipeline and offline demo, found by the case's name (trainer.catalog),
and the pipelines of no case study (SERVICE_PIPELINES: monitoring, batch prediction).

Case study `<name>` has its pipeline in `pipelines/<name>/pipeline.py`
(`build_pipeline(target)`) and its demo in `pipelines/<name>/demo.py`. Each
demo module provides demo_run(build_dir, source, overrides), a context manager
yielding the run's arguments with whatever local stand-in it needs running;
summary(outputs, arguments), the lines printed after the run;
demo_task_args(build_dir), the `trainer.task` arguments that train its model on
the demo data without a pipeline (`make train`); and, for `make emulate`,
emulator_arguments(build_dir, overrides), the arguments of a run on the Vertex
AI emulator with the demo data put where a Vertex run reads it, and
example_instances(build_dir, arguments), a request its endpoint answers; and, for
`make predict`, batch_source(build_dir), the batch prediction arguments (source_uri,
and local_database for a BigQuery demo) of its demo data.
A demo whose data is a BigQuery table also has demo_database(build_dir), the
DuckDB file that the emulator's BigQuery serves.
"""

from __future__ import annotations

import importlib
from types import ModuleType

from kfp.dsl.graph_component import GraphComponent

from pipelines.targets import TARGETS
from serving.contracts.errors import InputError
from trainer.catalog import case_names, check_case_name

PIPELINES: tuple[str, ...] = case_names()
# Pipelines of no case study, in pipelines/<name>/pipeline.py as theirs: compiled, submitted
# and scheduled the same way.
SERVICE_PIPELINES: tuple[str, ...] = ("monitoring", "batch_prediction")
ALL_PIPELINES: tuple[str, ...] = (*PIPELINES, *SERVICE_PIPELINES)


def check_pipeline_name(name: str) -> str:
    """`name` if it is a case study's pipeline or a service pipeline; else InputError."""
    if name in SERVICE_PIPELINES:
        return name
    if name not in PIPELINES:
        raise InputError(f"Unknown pipeline {name!r}: choose one of {', '.join(ALL_PIPELINES)}.")
    return check_case_name(name)


def get_pipeline(name: str, target: str = "local") -> GraphComponent:
    """The pipeline `name` built for `target` ("local" or "vertex")."""
    module = importlib.import_module(f"pipelines.{check_pipeline_name(name)}.pipeline")
    return module.build_pipeline(TARGETS[target])


def get_demo(name: str) -> ModuleType:
    """The offline demo of case study `name`."""
    return importlib.import_module(f"pipelines.{check_case_name(name)}.demo")


def case_of_pipeline(pipeline_name: str) -> str | None:
    """The case study whose pipeline is named `pipeline_name` (a compiled template's), if any."""
    for case in PIPELINES:
        module = importlib.import_module(f"pipelines.{case}.pipeline")
        if pipeline_name == module.PIPELINE_NAME:
            return case
    return None
