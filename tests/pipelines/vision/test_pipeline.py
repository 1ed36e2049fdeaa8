"""The whole vision pipeline on the kfp local runner, reading gs:// from the storage emulator."""

import json
import os
import shutil
import subprocess
import sys
from pathlib import Path

import pytest
import tensorflow as tf

from pipelines.catalog import get_pipeline
from pipelines.local.gcs_emulator import upload_directory
from pipelines.local.runner import run_locally
from pipelines.vision.demo import demo_arguments
from serving.registry.local_registry import LocalModelRegistry
from tests.conftest import REPO

pytestmark = pytest.mark.pipeline


def test_demo_run_is_blessed_and_registers_a_servable_champion(
    gcs_emulator, digits_dir, demo_base_weights, tmp_path, capsys
):
    upload_directory(digits_dir, "gs://pipeline-test/digits")
    arguments = demo_arguments(REPO / "build", "gs://pipeline-test/digits")
    arguments["registry_uri"] = str(tmp_path / "registry")

    outputs = run_locally(get_pipeline("vision"), arguments, tmp_path / "root")

    evaluation = outputs["evaluation"].metadata
    assert evaluation["blessed"] is True, evaluation["reason"]
    assert evaluation["accuracy"] >= arguments["accuracy_threshold"]
    manifest = json.loads((Path(outputs["dataset"].path) / "manifest.json").read_text())
    assert manifest["source_uri"] == "gs://pipeline-test/digits"
    assert len(manifest["files"]) == len(list(digits_dir.glob("*/*.png")))

    champion = LocalModelRegistry(tmp_path / "registry").champion("vision")
    assert champion is not None and champion.version == 1
    serve = tf.saved_model.load(str(champion.path)).signatures["serving_default"]
    test = [f for f in manifest["files"] if f["split"] == "test"][:40]
    images = [(Path(outputs["dataset"].path) / f["path"]).read_bytes() for f in test]
    labels = [x.decode() for x in serve(image_bytes=tf.constant(images))["label"].numpy()]
    correct = sum(label == f["label"] for label, f in zip(labels, test, strict=True))
    assert correct / len(test) >= 0.8
    assert (champion.path / "data_baseline" / "schema.json").is_file()

    _a_new_class_stops_the_next_run_before_training(arguments, digits_dir, tmp_path, capsys)


def _a_new_class_stops_the_next_run_before_training(arguments, digits_dir, tmp_path, capsys):
    """Against the champion's schema (its data baseline), an unknown class folder is an anomaly."""
    source = _few_digits(digits_dir, tmp_path / "with-new-class")
    (source / "digit_9").mkdir()
    for image in sorted((source / "digit_0").glob("*.png")):
        shutil.copy(image, source / "digit_9" / f"nine-{image.name}")
    upload_directory(source, "gs://pipeline-test/with-new-class")
    capsys.readouterr()

    with pytest.raises(RuntimeError, match="validate-data"):
        run_locally(
            get_pipeline("vision"),
            {**arguments, "source_uri": "gs://pipeline-test/with-new-class"},
            tmp_path / "second",
        )

    output = capsys.readouterr().out
    assert "label: new classes" in output and "'digit_9'" in output
    assert not list((tmp_path / "second").glob("**/model/metadata.json")), "nothing was trained"
    assert LocalModelRegistry(arguments["registry_uri"]).versions("vision") == [1]


def _few_digits(digits_dir: Path, destination: Path, per_class: int = 24) -> Path:
    """The first `per_class` images of each class: enough for the wiring under test, and fast."""
    for folder in sorted(p for p in digits_dir.iterdir() if p.is_dir()):
        (destination / folder.name).mkdir(parents=True)
        for image in sorted(folder.glob("*.png"))[:per_class]:
            shutil.copy(image, destination / folder.name / image.name)
    return destination


def _cli(*args: str) -> subprocess.CompletedProcess:
    return subprocess.run(
        [sys.executable, "-m", "pipelines", "run", "vision", *args],
        cwd=REPO,
        capture_output=True,
        text=True,
        timeout=600,
        env={**os.environ, "TF_CPP_MIN_LOG_LEVEL": "3"},
    )


def test_unblessed_run_skips_deploy_and_reports_skipped_files(
    gcs_emulator, digits_dir, demo_base_weights, tmp_path
):
    source = _few_digits(digits_dir, tmp_path / "source")
    (source / "digit_0" / "empty.png").write_bytes(b"")
    (source / "digit_1" / "notes.txt").write_text("not an image")
    good = (source / "digit_2").glob("*.png").__next__().read_bytes()
    (source / "digit_2" / "truncated.png").write_bytes(good[: len(good) // 2])
    upload_directory(source, "gs://pipeline-test/with-bad-files")

    result = _cli(
        "--source", "gs://pipeline-test/with-bad-files",
        "--pipeline-root", str(tmp_path / "root"),
        "--set", f"registry_uri={tmp_path / 'registry'}",
        "--set", "accuracy_threshold=1.0",
        "--set", "head_epochs=1",
        "--set", "fine_tune_epochs=0",
        # a head that learns nothing: a few easy test digits can otherwise all be right
        "--set", "learning_rate=1e-9",
    )  # fmt: skip

    assert result.returncode == 0, result.stdout[-3000:] + result.stderr[-3000:]
    assert "not blessed" in result.stdout and "Deploy:    skipped" in result.stdout
    assert LocalModelRegistry(tmp_path / "registry").versions("vision") == []
    manifest_line = next(
        line for line in result.stdout.splitlines() if line.startswith("Manifest:")
    )
    manifest = json.loads(Path(manifest_line.split(":", 1)[1].strip()).read_text())
    reasons = {s["path"]: s["reason"] for s in manifest["skipped"]}
    assert set(reasons) == {"digit_0/empty.png", "digit_1/notes.txt", "digit_2/truncated.png"}
    assert reasons["digit_0/empty.png"] == "zero-byte file"
    assert reasons["digit_1/notes.txt"] == "not an image"
    assert reasons["digit_2/truncated.png"].startswith("corrupt or truncated")


def test_missing_bucket_is_a_clear_error(gcs_emulator, tmp_path):
    result = _cli(
        "--source", "gs://no-such-bucket/images",
        "--pipeline-root", str(tmp_path / "root"),
        "--set", f"registry_uri={tmp_path / 'registry'}",
    )  # fmt: skip
    assert result.returncode != 0
    assert "Bucket 'no-such-bucket'" in result.stdout + result.stderr
