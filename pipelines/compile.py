"""Compile pipelines for Vertex AI Pipelines (build/pipelines/<name>.yaml)."""

from __future__ import annotations

from pathlib import Path

from kfp import compiler

from pipelines.catalog import get_pipeline


def compile_pipeline(name: str, out_dir: str | Path, target: str = "vertex") -> Path:
    out = Path(out_dir) / f"{name}.yaml"
    out.parent.mkdir(parents=True, exist_ok=True)
    compiler.Compiler().compile(get_pipeline(name, target), str(out))
    return out
