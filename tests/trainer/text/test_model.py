"""The guide's text classifier on the project's hub module, and its raw-string export."""

from __future__ import annotations

import shutil

import numpy as np
import pytest
import tensorflow as tf

from trainer.text.embedding_module import write_text_embedding_module
from trainer.text.export import export_text_classifier
from trainer.text.model import build_text_classifier

TEXTS = np.array(["a fine day", "rain all day", "sun and wind", "grey skies", "warm evening"])


@pytest.fixture
def module_dir(tmp_path):
    return write_text_embedding_module(tmp_path / "embed", 256, 8, seed=1)


def test_two_classes_get_a_sigmoid_and_binary_cross_entropy(module_dir):
    model = build_text_classifier(str(module_dir), 2)
    assert model.layers[-1].units == 1
    assert model.layers[-1].activation.__name__ == "sigmoid"
    assert model.loss == "binary_crossentropy"


def test_more_classes_get_a_softmax_and_sparse_categorical_cross_entropy(module_dir):
    model = build_text_classifier(str(module_dir), 4)
    assert model.layers[-1].units == 4
    assert model.layers[-1].activation.__name__ == "softmax"
    assert model.loss == "sparse_categorical_crossentropy"
    probabilities = model(tf.constant(TEXTS)).numpy()
    np.testing.assert_allclose(probabilities.sum(axis=1), 1, rtol=1e-5)


@pytest.mark.parametrize("classes", [["no", "yes"], ["cloud", "rain", "sun"]])
def test_the_export_serves_raw_strings_without_the_hub_module(module_dir, tmp_path, classes):
    model = build_text_classifier(str(module_dir), len(classes))
    model.fit(TEXTS, np.arange(len(TEXTS)) % len(classes), epochs=1, verbose=0)
    expected = model(tf.constant(TEXTS)).numpy()
    export_text_classifier(model, tmp_path / "model", classes, {"task": "test"})
    shutil.rmtree(module_dir)  # serving must not need it

    serve = tf.saved_model.load(str(tmp_path / "model")).signatures["serving_default"]
    out = serve(text=tf.constant(TEXTS))
    probabilities = out["probabilities"].numpy()
    if len(classes) == 2:
        np.testing.assert_allclose(probabilities[:, 1], expected[:, 0], rtol=1e-5)
    else:
        np.testing.assert_allclose(probabilities, expected, rtol=1e-5)
    np.testing.assert_allclose(probabilities.sum(axis=1), 1, rtol=1e-5)
    labels = [label.decode() for label in out["label"].numpy()]
    assert labels == [classes[i] for i in probabilities.argmax(axis=1)]
    assert out["class_names"].numpy()[0].tolist() == [c.encode() for c in classes]


def test_the_export_answers_for_odd_strings(module_dir, tmp_path):
    model = build_text_classifier(str(module_dir), 2)
    export_text_classifier(model, tmp_path / "model", ["no", "yes"], {})
    serve = tf.saved_model.load(str(tmp_path / "model")).signatures["serving_default"]
    odd = tf.constant([b"", b"   ", b"caf\xe9 \xff", ("word " * 50_000).encode()])
    probabilities = serve(text=odd)["probabilities"].numpy()
    assert probabilities.shape == (4, 2) and np.isfinite(probabilities).all()
