"""Offline demo for the text pipeline: generated support messages on a storage emulator,
and the project's own TF Hub text-embedding module as the handle.
"""

from __future__ import annotations

import contextlib
import json
import os
from collections.abc import Iterator
from pathlib import Path

from pipelines.data_summary import data_summary
from serving.contracts.errors import InputError
from serving.contracts.storage import parse_source_uri
from trainer.text.demo_data import write_messages_jsonl
from trainer.text.readers import BIGQUERY_PREFIX

DEMO_OBJECT_URI = "gs://mlops-demo/text/support_messages.jsonl"
# Sized for a 2-core laptop.
DEMO_TRAINING = {"epochs": 15, "batch_size": 32, "learning_rate": 0.003, "hidden_units": 32}
DEMO_ACCURACY_THRESHOLD = 0.85


def demo_corpus(build_dir: Path) -> Path:
    """build/demo/text/support_messages.jsonl, written once."""
    path = build_dir / "demo" / "text" / "support_messages.jsonl"
    return path if path.is_file() else write_messages_jsonl(path)


def demo_hub_module(build_dir: Path) -> Path:
    """build/hub/hashing-text-embedding: the offline hub module, written once."""
    # Imported here: it imports TensorFlow, which the CLI process itself must not load
    # (about 500 MB and 4 s; every pipeline step imports its own).
    from trainer.text.embedding_module import write_text_embedding_module

    path = build_dir / "hub" / "hashing-text-embedding"
    return path if (path / "saved_model.pb").is_file() else write_text_embedding_module(path)


def demo_arguments(build_dir: Path, source_uri: str, overrides: dict | None = None) -> dict:
    """Pipeline arguments for the offline demo, with `overrides` on top."""
    overrides = overrides or {}
    arguments = {
        "source_uri": source_uri,
        "registry_uri": str((build_dir / "registry").resolve()),
        "model_name": "text",
        **DEMO_TRAINING,
        "accuracy_threshold": DEMO_ACCURACY_THRESHOLD,
        **overrides,
    }
    if "hub_handle" not in overrides:
        arguments["hub_handle"] = str(demo_hub_module(build_dir).resolve())
    return arguments


def demo_task_args(build_dir: Path) -> list[str]:
    """`trainer.task text` arguments for the demo corpus and the offline hub module."""
    from trainer.tuning.trials import setting_flags

    return [
        "--source-uri",
        str(demo_corpus(build_dir).resolve()),
        "--hub-handle",
        str(demo_hub_module(build_dir).resolve()),
        *setting_flags(DEMO_TRAINING),
    ]


def emulator_arguments(build_dir: Path, overrides: dict) -> dict:
    """Arguments of a run on the Vertex AI emulator: the corpus in its storage emulator.

    The hub module stays a path on this machine, where the emulator's steps run: TF Hub
    reads gs:// handles with tf.io.gfile, which cannot reach a storage emulator.
    """
    from pipelines.local.gcs_emulator import upload_file

    upload_file(demo_corpus(build_dir), DEMO_OBJECT_URI)
    arguments = demo_arguments(build_dir, DEMO_OBJECT_URI, overrides)
    arguments.pop("registry_uri")
    return arguments


def example_instances(build_dir: Path, arguments: dict) -> list:
    """A support message, as the served model takes it."""
    return ["my parcel never arrived"]


def batch_source(build_dir: Path) -> dict:
    """What `make predict` predicts by default: the demo messages as JSONL of {"text": ...}
    (without their labels), written once."""
    path = (build_dir / "batch-prediction" / "text-instances.jsonl").resolve()
    if not path.is_file():
        path.parent.mkdir(parents=True, exist_ok=True)
        tmp = path.with_name(f".{path.name}.tmp")
        with demo_corpus(build_dir).open() as lines, tmp.open("w") as out:
            for line in filter(str.strip, lines):
                out.write(json.dumps({"text": json.loads(line)["text"]}) + "\n")
        os.replace(tmp, path)
    return {"source_uri": str(path)}


@contextlib.contextmanager
def demo_run(build_dir: Path, source: str | None, overrides: dict) -> Iterator[dict]:
    """The arguments of a local run; without `source`, the demo corpus on a storage emulator."""
    if source:
        try:
            if not source.startswith(BIGQUERY_PREFIX):
                parse_source_uri(source)
        except InputError as exc:
            raise SystemExit(str(exc)) from None
        yield demo_arguments(build_dir, source, overrides)
        return
    from pipelines.local.gcs_emulator import serving_on_emulator

    arguments = demo_arguments(build_dir, DEMO_OBJECT_URI, overrides)
    with serving_on_emulator(demo_corpus(build_dir), DEMO_OBJECT_URI):
        yield arguments


def summary(outputs: dict, arguments: dict) -> list[str]:
    """What `make run` prints after a run."""
    evaluation = outputs["evaluation"].metadata
    manifest_path = Path(outputs["dataset"].path) / "manifest.json"
    manifest = json.loads(manifest_path.read_text())
    lines = [
        f"Test accuracy: {evaluation['accuracy']:.4f}, macro F1 {evaluation['macro_f1']:.4f} on "
        f"{int(evaluation['num_examples'])} texts ({evaluation['reason']}: "
        f"{'blessed' if evaluation['blessed'] else 'not blessed'})",
        f"Model:     {Path(outputs['model'].path)}",
        f"Report:    {outputs['report'].path}",
        f"Manifest:  {manifest_path}",
        *data_summary(outputs),
    ]
    dropped = {reason: n for reason, n in manifest["dropped_by_reason"].items() if n}
    if dropped or manifest.get("truncated"):
        reasons = ", ".join(f"{n} {reason}" for reason, n in sorted(dropped.items()))
        lines.append(
            f"Dropped:   {sum(dropped.values())} rows ({reasons or 'none'}); "
            f"{manifest.get('truncated', 0)} texts truncated; see the manifest"
        )
    return lines
