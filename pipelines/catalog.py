"""The case-study pipelines by name: what `make compile/run/submit PIPELINE=<name>` accept."""

from collections.abc import Callable

from kfp.dsl.graph_component import GraphComponent

from pipelines.targets import TARGETS
from pipelines.text import build_text_pipeline
from pipelines.timeseries import build_timeseries_pipeline
from pipelines.vision import build_vision_pipeline

PIPELINES: dict[str, Callable] = {
    "vision": build_vision_pipeline,
    "timeseries": build_timeseries_pipeline,
    "text": build_text_pipeline,
}


def check_pipeline_name(name: str) -> str:
    if name not in PIPELINES:
        raise SystemExit(
            f"Unknown pipeline {name!r}: choose one of {', '.join(sorted(PIPELINES))} "
            "(e.g. PIPELINE=vision)."
        )
    return name


def get_pipeline(name: str, target: str = "local") -> GraphComponent:
    """The pipeline `name` built for `target` ("local" or "vertex")."""
    return PIPELINES[check_pipeline_name(name)](TARGETS[target])
