"""Training and export: a servable SavedModel with metadata, k-fold, refusals, no half-writes."""

import hashlib
import json
import shutil

import numpy as np
import pytest
import tensorflow as tf

from serving.contracts.errors import InputError
from tests.conftest import jpeg_bytes, quick_config
from trainer.vision.ingest import read_manifest
from trainer.vision.training import train_image_classifier


def test_export_is_a_servable_savedmodel_with_metadata(trained_model, digits_dataset):
    model_dir, metrics = trained_model
    metadata = json.loads((model_dir / "metadata.json").read_text())
    manifest = read_manifest(digits_dataset)
    assert metadata["classes"] == manifest["classes"]
    assert metadata["input"]["image_size"] == 32
    assert metadata["training_params"]["head_epochs"] == 2
    digest = hashlib.sha256((digits_dataset / "manifest.json").read_bytes()).hexdigest()
    assert metadata["dataset"]["manifest_sha256"] == digest
    assert 0 <= metrics["val_accuracy"] <= 1 and "fine_tune_val_accuracy" in metrics

    serve = tf.saved_model.load(str(model_dir)).signatures["serving_default"]
    png = (digits_dataset / manifest["files"][0]["path"]).read_bytes()
    jpeg = jpeg_bytes(np.zeros((40, 30, 3)))
    out = serve(image_bytes=tf.constant([png, jpeg]))
    assert out["probabilities"].shape == (2, 5)
    np.testing.assert_allclose(out["probabilities"].numpy().sum(axis=1), 1.0, rtol=1e-5)
    assert {label.decode() for label in out["label"].numpy()} <= set(manifest["classes"])
    assert [c.decode() for c in out["class_names"].numpy()[0]] == manifest["classes"]
    top = np.argmax(out["probabilities"].numpy(), axis=1)
    assert [manifest["classes"][i] for i in top] == [x.decode() for x in out["label"].numpy()]


def test_k_fold_cross_validation_reports_every_fold(digits_dataset, small_base_weights, tmp_path):
    config = quick_config(small_base_weights, head_epochs=1, fine_tune_epochs=0, cv_folds=2)
    metrics = train_image_classifier(digits_dataset, tmp_path / "model", config)
    assert len(metrics["cv_fold_accuracies"]) == 2
    assert metrics["cv_accuracy_mean"] == pytest.approx(np.mean(metrics["cv_fold_accuracies"]))
    assert (tmp_path / "model" / "metadata.json").is_file()


@pytest.mark.parametrize(
    ("override", "message"),
    [
        ({"cv_folds": 1}, "cv_folds"),
        ({"augment_flip": "diagonal"}, "augment_flip"),
        ({"batch_size": 0}, "batch_size"),
        ({"base_weights": "missing.h5"}, "missing.h5"),
        ({"learning_rate": 0.0}, "learning_rate"),
        ({"dropout": 1.0}, "dropout"),
        ({"augment_zoom": -0.1}, "augment_zoom"),
    ],
)
def test_bad_settings_are_refused_and_nothing_is_written(
    override, message, digits_dataset, small_base_weights, tmp_path
):
    with pytest.raises(InputError, match=message):
        train_image_classifier(
            digits_dataset, tmp_path / "model", quick_config(small_base_weights, **override)
        )
    assert not (tmp_path / "model").exists()


def test_incomplete_dataset_is_refused(digits_dataset, small_base_weights, tmp_path):
    partial = tmp_path / "dataset"
    shutil.copytree(digits_dataset, partial)
    (partial / "manifest.json").unlink()
    with pytest.raises(FileNotFoundError, match="incomplete"):
        train_image_classifier(partial, tmp_path / "model", quick_config(small_base_weights))


def test_failed_export_leaves_no_model_directory(
    digits_dataset, small_base_weights, tmp_path, monkeypatch
):
    """The failure is injected (a disk-full error cannot be staged portably): saving raises."""

    def fail(*args, **kwargs):
        raise OSError("No space left on device")

    monkeypatch.setattr(tf.saved_model, "save", fail)
    config = quick_config(small_base_weights, head_epochs=1, fine_tune_epochs=0)
    with pytest.raises(OSError, match="No space left"):
        train_image_classifier(digits_dataset, tmp_path / "model", config)
    assert not (tmp_path / "model").exists()


def _exported_weights(model_dir) -> dict:
    loaded = tf.saved_model.load(str(model_dir))
    return {v.name: v.numpy() for v in loaded.model_variables}


def _pretrained_base(weights):
    from trainer.vision.model import build_base
    from trainer.vision.pretrain_base import DEFAULT_BASE

    return build_base(DEFAULT_BASE, str(weights), 32)


def test_head_stage_leaves_the_base_untouched(digits_dataset, small_base_weights, tmp_path):
    config = quick_config(small_base_weights, head_epochs=1, fine_tune_epochs=0)
    train_image_classifier(digits_dataset, tmp_path / "model", config)
    exported = _exported_weights(tmp_path / "model")
    base = _pretrained_base(small_base_weights)
    for weight in base.weights:
        np.testing.assert_array_equal(exported[weight.name], weight.numpy(), err_msg=weight.name)


def test_fine_tuning_updates_only_the_top_of_the_base(trained_model, small_base_weights):
    model_dir, _ = trained_model  # fine_tune_layers=5, one fine-tuning epoch
    exported = _exported_weights(model_dir)
    base = _pretrained_base(small_base_weights)
    top = base.layers[-5:]
    tuned = {
        w.name
        for layer in top
        if not isinstance(layer, tf.keras.layers.BatchNormalization)
        for w in layer.trainable_weights
    }
    assert tuned, "the top five layers hold trainable weights"
    changed = {w.name for w in base.weights if not np.array_equal(exported[w.name], w.numpy())}
    assert changed and changed <= tuned
