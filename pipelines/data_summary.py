"""What `make run` prints about the data (no kfp import: the demos' summaries use it)."""

from __future__ import annotations


def data_summary(outputs: dict) -> list[str]:
    """The lines `make run` prints about the data: what was checked, and where the reports are."""
    validation = outputs["validation"]
    return [
        f"Data:      {validation.metadata.get('summary', 'not validated')}",
        f"Stats:     {outputs['statistics'].path}",
        f"Checks:    {validation.path}",
    ]
