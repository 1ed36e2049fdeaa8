"""The project's own TF Hub text embedding, loaded as users load hub modules.

The model code is the reference guide's, with the project's module as the
handle: hub.KerasLayer(handle, input_shape=[], dtype=tf.string, trainable=True)
inside tf.keras.Sequential, then Dense layers.
"""

from __future__ import annotations

import shutil
import socket

import numpy as np
import pytest
import tensorflow as tf
import tensorflow_hub as hub

from serving.contracts.errors import InputError
from trainer.text.embedding_module import write_text_embedding_module
from trainer.text.hub_handles import check_text_embedding, hub_cache_path

URL = "https://tfhub.dev/google/universal-sentence-encoder/4"


@pytest.fixture(scope="module")
def module_dir(tmp_path_factory):
    return write_text_embedding_module(tmp_path_factory.mktemp("hub") / "embed", 512, 8, seed=3)


def guide_model(handle: str, trainable: bool) -> tf.keras.Model:
    hub_layer = hub.KerasLayer(handle, input_shape=[], dtype=tf.string, trainable=trainable)
    model = tf.keras.Sequential(
        [
            hub_layer,
            tf.keras.layers.Dense(16, activation="relu"),
            tf.keras.layers.Dense(1, activation="sigmoid"),
        ]
    )
    model.compile(optimizer="adam", loss="binary_crossentropy", metrics=["accuracy"])
    return model


TEXTS = np.array(["a great film", "an awful film", "great acting", "awful plot"])
LABELS = np.array([1, 0, 1, 0])


def test_the_guides_model_runs_on_the_module(module_dir):
    model = guide_model(str(module_dir), trainable=True)
    assert model(tf.constant(TEXTS)).shape == (4, 1)
    assert model.layers[0].output_shape == (None, 8)


def test_fine_tuning_updates_the_embedding_rows_of_the_words_seen(module_dir):
    model = guide_model(str(module_dir), trainable=True)
    (table,) = model.layers[0].trainable_weights
    before = table.numpy().copy()
    model.fit(TEXTS, LABELS, epochs=3, verbose=0)
    changed = set(np.flatnonzero(np.abs(table.numpy() - before).sum(axis=1) > 0))
    words = {w for text in TEXTS for w in text.split()}
    pairs = {
        f"{a} {b}" for text in TEXTS for a, b in zip(text.split(), text.split()[1:], strict=False)
    }
    seen = tf.strings.to_hash_bucket_fast(sorted(words | pairs), table.shape[0]).numpy()
    assert changed == set(seen.tolist())  # every word and pair seen, and no other row


def test_a_frozen_module_stays_as_it_was(module_dir):
    model = guide_model(str(module_dir), trainable=False)
    assert model.layers[0].trainable_weights == []
    (table,) = model.layers[0].non_trainable_weights
    before = table.numpy().copy()
    model.fit(TEXTS, LABELS, epochs=2, verbose=0)
    np.testing.assert_array_equal(table.numpy(), before)


def test_words_are_case_and_punctuation_insensitive_and_order_matters(module_dir):
    embed = hub.load(str(module_dir))
    vectors = embed(
        tf.constant(
            ["Not good!", "not good", "good not", "", "   ", b"caf\xe9 \xff bad".decode("latin-1")]
        )
    ).numpy()
    np.testing.assert_allclose(vectors[0], vectors[1])
    assert not np.allclose(vectors[1], vectors[2])  # word pairs differ
    np.testing.assert_array_equal(vectors[3], 0)
    np.testing.assert_array_equal(vectors[4], 0)
    assert np.isfinite(vectors[5]).all() and np.abs(vectors[5]).sum() > 0


def test_invalid_utf8_bytes_are_embedded_not_fatal(module_dir):
    embed = hub.load(str(module_dir))
    vectors = embed(tf.constant([b"caf\xe9 ok", b"\xff\xfe", b"ok"])).numpy()
    assert np.isfinite(vectors).all()


def test_a_url_handle_is_read_from_the_cache_dir_without_a_download(
    module_dir, tmp_path, monkeypatch
):
    """How a cloud image bakes a module in: extracted under TFHUB_CACHE_DIR/<sha1(url)>."""
    monkeypatch.setenv("TFHUB_CACHE_DIR", str(tmp_path / "cache"))
    cached = hub_cache_path(URL)
    shutil.copytree(module_dir, cached)
    assert hub.resolve(URL) == str(cached)
    model = guide_model(URL, trainable=True)
    assert model(tf.constant(TEXTS)).shape == (4, 1)
    assert check_text_embedding(URL) == 8


def test_check_returns_the_embedding_size(module_dir):
    assert check_text_embedding(str(module_dir)) == 8


def _closed_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return probe.getsockname()[1]


@pytest.mark.timeout(60)
def test_handles_that_do_not_exist_are_named(tmp_path, monkeypatch):
    with pytest.raises(InputError, match="does not exist here"):
        check_text_embedding(str(tmp_path / "no-such-module"))
    with pytest.raises(InputError, match="is empty"):
        check_text_embedding(" ")
    monkeypatch.setenv("TFHUB_CACHE_DIR", str(tmp_path / "cache"))
    url = f"http://127.0.0.1:{_closed_port()}/models/encoder/1"
    with pytest.raises(InputError, match=r"cannot be loaded .*extract the module into .*cache/"):
        check_text_embedding(url)


def test_a_saved_model_that_is_not_a_text_embedding_is_refused(tmp_path):
    numbers = tf.Module()
    numbers.__call__ = tf.function(
        lambda x: x * 2.0, input_signature=[tf.TensorSpec([None], tf.float32)]
    )
    tf.saved_model.save(numbers, str(tmp_path / "doubler"))
    with pytest.raises(InputError, match="is not a text embedding"):
        check_text_embedding(str(tmp_path / "doubler"))
