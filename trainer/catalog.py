"""The case studies: every package `trainer/<name>/` with a `case_study.py` is one.

Every command reads this: `python -m pipelines` (pipeline `<name>` is
`pipelines/<name>/pipeline.py`, its demo `pipelines/<name>/demo.py`),
`python -m trainer.task <name>` and the tests. Adding a case study is adding
its packages; no module lists the case studies by hand.
"""

from __future__ import annotations

import importlib
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

from serving.contracts.errors import InputError

CASE_STUDY_MODULE = "case_study.py"


@dataclass(frozen=True)
class CaseStudy:
    """What `trainer.task` needs to know of one case study."""

    config: type  # the training config dataclass: the one declaration of its parameters
    train: Callable[..., dict]  # (dataset_dir, model_dir, config, tensorboard_dir, checkpoint_dir)
    ingest: Callable[..., dict]  # (source_uri, dataset_dir, **options)
    source: str  # what --source-uri takes
    headline: tuple[str, str]  # (metric, its name) the last line reports


def case_names() -> tuple[str, ...]:
    """The case studies' names, found without importing them (so without TensorFlow)."""
    here = Path(__file__).parent
    return tuple(sorted(p.parent.name for p in here.glob(f"*/{CASE_STUDY_MODULE}")))


def check_case_name(name: str) -> str:
    """`name` if it is a case study; else InputError with the names there are."""
    if name not in case_names():
        raise InputError(
            f"Unknown pipeline {name!r}: choose one of {', '.join(case_names())} "
            "(e.g. PIPELINE=vision)."
        )
    return name


def case_study(name: str) -> CaseStudy:
    """The case study `name` (imports its training code, so TensorFlow)."""
    module = importlib.import_module(f"trainer.{check_case_name(name)}.case_study")
    return module.CASE_STUDY
