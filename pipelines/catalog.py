"""The case-study pipelines by name: what `make compile/run PIPELINE=<name>` accept."""

from collections.abc import Callable

from pipelines.vision import vision_pipeline

PIPELINES: dict[str, Callable] = {
    "vision": vision_pipeline,
}


def get_pipeline(name: str) -> Callable:
    if name not in PIPELINES:
        raise SystemExit(
            f"Unknown pipeline {name!r}: choose one of {', '.join(sorted(PIPELINES))}."
        )
    return PIPELINES[name]
