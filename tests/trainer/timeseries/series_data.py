"""Synthetic hourly series written as an ingested dataset (data.parquet + manifest.json)."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pandas as pd


def seasonal_frame(hours: int = 600, gaps: tuple[int, ...] = (), seed: int = 0) -> pd.DataFrame:
    """Hourly ts/value: a daily cycle, a slow trend and noise; rows at `gaps` left out."""
    rng = np.random.default_rng(seed)
    ts = pd.date_range("2024-01-01", periods=hours, freq="h")
    t = np.arange(hours)
    value = 10 + 5 * np.sin(2 * np.pi * t / 24) + 0.01 * t + rng.normal(0, 0.3, hours)
    frame = pd.DataFrame({"ts": ts, "value": value})
    return frame.drop(index=list(gaps)).reset_index(drop=True)


def write_dataset(directory: Path, frame: pd.DataFrame) -> Path:
    """What the ingest step writes, for tests that start after it."""
    directory.mkdir(parents=True, exist_ok=True)
    frame.to_parquet(directory / "data.parquet", index=False)
    manifest = {"engine": "test", "row_count": len(frame), "columns": list(frame.columns)}
    (directory / "manifest.json").write_text(json.dumps(manifest))
    return directory
