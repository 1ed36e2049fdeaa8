"""Offline demo for the vision pipeline: digits PNGs, a pretrained base, gs:// on an emulator."""

from __future__ import annotations

import contextlib
import json
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path

from pipelines.data_summary import data_summary
from serving.contracts.errors import InputError
from serving.contracts.storage import parse_source_uri
from trainer.vision.demo_data import CASE_STUDY_DIGITS, write_digit_folders

DEMO_BUCKET_URI = "gs://mlops-demo/vision/digits"
BASE_MODEL = "mobilenet_v3_small_minimalistic"
IMAGE_SIZE = 64
# Training settings sized for a 2-core laptop and the 64 px digits.
DEMO_TRAINING = {
    "base_model": BASE_MODEL,
    "image_size": IMAGE_SIZE,
    "batch_size": 32,
    "head_epochs": 15,
    "fine_tune_epochs": 10,
    "fine_tune_layers": 40,
    "learning_rate": 0.002,
    "fine_tune_learning_rate": 0.0003,
    "augment_flip": "none",  # a mirrored digit is not a digit
}
DEMO_ACCURACY_THRESHOLD = 0.9


def demo_images(build_dir: Path) -> Path:
    """build/demo/vision/digits/<class>/*.png, written once."""
    folder = build_dir / "demo" / "vision" / "digits"
    if not folder.is_dir():
        tmp = folder.with_name(".digits.partial")
        write_digit_folders(tmp, CASE_STUDY_DIGITS)
        tmp.rename(folder)
    return folder


def pretrained_base(build_dir: Path) -> Path:
    """The base's weights pretrained on digits 5-9, built once in a subprocess."""
    weights = build_dir / "pretrained" / f"{BASE_MODEL}-{IMAGE_SIZE}px-digits5to9.h5"
    if not weights.is_file():
        print(f"Pretraining the offline base network once -> {weights}", flush=True)
        subprocess.run(
            [
                sys.executable,
                "-m",
                "trainer.vision.pretrain_base",
                "--out",
                str(weights),
                "--base-model",
                BASE_MODEL,
                "--image-size",
                str(IMAGE_SIZE),
            ],
            check=True,
        )
    return weights


def demo_arguments(build_dir: Path, source_uri: str, overrides: dict | None = None) -> dict:
    """Pipeline arguments for the offline demo, with `overrides` on top.

    The offline base is pretrained only when base_weights is not overridden.
    """
    overrides = overrides or {}
    arguments = {
        "source_uri": source_uri,
        "registry_uri": str((build_dir / "registry").resolve()),
        "model_name": "vision",
        **DEMO_TRAINING,
        "accuracy_threshold": DEMO_ACCURACY_THRESHOLD,
        **overrides,
    }
    if "base_weights" not in overrides:
        arguments["base_weights"] = str(pretrained_base(build_dir).resolve())
    return arguments


def demo_task_args(build_dir: Path) -> list[str]:
    """`trainer.task vision` arguments for the demo digits and the offline base."""
    from trainer.tuning.trials import setting_flags

    return [
        "--source-uri",
        str(demo_images(build_dir).resolve()),
        "--base-weights",
        str(pretrained_base(build_dir).resolve()),
        *setting_flags(DEMO_TRAINING),
    ]


def emulator_arguments(build_dir: Path, overrides: dict) -> dict:
    """Arguments of a run on the Vertex AI emulator: the digits and the base weights in its
    storage emulator (STORAGE_EMULATOR_HOST), as a Vertex AI run reads them from Cloud Storage."""
    from pipelines.local.gcs_emulator import upload_directory, upload_file

    upload_directory(demo_images(build_dir), DEMO_BUCKET_URI)
    arguments = demo_arguments(build_dir, DEMO_BUCKET_URI, overrides)
    arguments.pop("registry_uri")
    if "base_weights" not in overrides:
        weights_uri = f"gs://mlops-demo/vision/pretrained/{Path(arguments['base_weights']).name}"
        upload_file(arguments["base_weights"], weights_uri)
        arguments["base_weights"] = weights_uri
    return arguments


def example_instances(build_dir: Path, arguments: dict) -> list:
    """One demo digit as the served model takes it: {"b64": <the PNG's bytes>}."""
    import base64

    image = min(demo_images(build_dir).glob("*/*.png"))
    return [{"b64": base64.b64encode(image.read_bytes()).decode()}]


def batch_source(build_dir: Path) -> dict:
    """What `make predict` predicts by default: the demo digits' folder, each file an instance."""
    return {"source_uri": str(demo_images(build_dir).resolve())}


@contextlib.contextmanager
def demo_run(build_dir: Path, source: str | None, overrides: dict) -> Iterator[dict]:
    """The arguments of a local run; without `source`, the digits served from a storage emulator."""
    if source:
        try:
            parse_source_uri(source)
        except InputError as exc:
            raise SystemExit(str(exc)) from None
        yield demo_arguments(build_dir, source, overrides)
        return
    from pipelines.local.gcs_emulator import serving_on_emulator

    arguments = demo_arguments(build_dir, DEMO_BUCKET_URI, overrides)
    with serving_on_emulator(demo_images(build_dir), DEMO_BUCKET_URI):
        yield arguments


def summary(outputs: dict, arguments: dict) -> list[str]:
    """What `make run` prints after a run."""
    evaluation = outputs["evaluation"].metadata
    manifest = Path(outputs["dataset"].path) / "manifest.json"
    skipped = json.loads(manifest.read_text())["skipped_by_reason"]
    lines = [
        f"Test accuracy: {evaluation['accuracy']:.4f} on {int(evaluation['num_examples'])} images "
        f"({evaluation['reason']}: {'blessed' if evaluation['blessed'] else 'not blessed'})",
        f"Model:     {Path(outputs['model'].path)}",
        f"Report:    {outputs['report'].path}",
        f"Manifest:  {manifest}",
        *data_summary(outputs),
    ]
    if skipped:
        reasons = ", ".join(f"{n} {reason}" for reason, n in sorted(skipped.items()))
        lines.append(f"Skipped:   {sum(skipped.values())} files ({reasons}); see the manifest")
    return lines
