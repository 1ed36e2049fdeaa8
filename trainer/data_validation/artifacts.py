"""What the pipeline steps write for data validation, each in one call from its component."""

from __future__ import annotations

from pathlib import Path

from trainer.data_validation.report import write_statistics_report
from trainer.data_validation.statistics import write_statistics


def save_statistics(statistics: dict, statistics_dir: str | Path, report_path: str | Path) -> dict:
    """Write the statistics artifact and its HTML view; return the artifact's metadata."""
    write_statistics(statistics_dir, statistics)
    write_statistics_report(report_path, statistics)
    return {
        "examples": statistics["dataset"]["examples"],
        "features": sorted(statistics["features"]),
    }
