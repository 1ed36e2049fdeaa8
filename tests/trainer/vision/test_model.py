"""Transfer-learning model: weights come from the file, the base is frozen, then partly not."""

import numpy as np
import pytest
import tensorflow as tf

from serving.contracts.errors import InputError
from trainer.vision.config import BASE_MODELS
from trainer.vision.model import (
    BASES,
    build_base,
    build_classifier,
    resolve_base_weights,
    unfreeze_top,
)
from trainer.vision.pretrain_base import DEFAULT_BASE


def test_base_loads_the_pretrained_weights_file(small_base_weights):
    base = build_base(DEFAULT_BASE, str(small_base_weights), 32)
    fresh = tf.keras.applications.MobileNetV3Small(
        include_top=False, weights=None, input_shape=(32, 32, 3), minimalistic=True
    )
    fresh.load_weights(str(small_base_weights))
    for loaded, expected in zip(base.get_weights(), fresh.get_weights(), strict=True):
        np.testing.assert_array_equal(loaded, expected)
    random_init = tf.keras.applications.MobileNetV3Small(
        include_top=False, weights=None, input_shape=(32, 32, 3), minimalistic=True
    )
    assert any(
        not np.array_equal(a, b)
        for a, b in zip(base.get_weights(), random_init.get_weights(), strict=True)
    ), "the base must not be a random initialisation"


@pytest.mark.parametrize("weights", ["", "none", "random"])
def test_no_silent_random_initialisation(weights):
    with pytest.raises(InputError, match="pretrained weights"):
        resolve_base_weights(weights)


def test_missing_weights_file_is_named(tmp_path):
    missing = tmp_path / "nope.h5"
    with pytest.raises(InputError, match=r"nope\.h5"):
        build_base(DEFAULT_BASE, str(missing), 32)


def test_weights_of_another_architecture_are_refused(small_base_weights):
    with pytest.raises(InputError, match="same base and input size"):
        build_base("mobilenet_v2", str(small_base_weights), 32)


def test_the_config_offers_exactly_the_bases_the_model_builds():
    assert sorted(BASE_MODELS) == sorted(BASES)


def test_unknown_base_and_too_small_images_are_refused(small_base_weights):
    with pytest.raises(InputError, match="Unknown base_model 'vgg'"):
        build_base("vgg", str(small_base_weights), 32)
    with pytest.raises(InputError, match="image_size 16"):
        build_base(DEFAULT_BASE, str(small_base_weights), 16)


def test_classifier_trains_only_the_head_until_unfrozen(small_base_weights):
    base = build_base(DEFAULT_BASE, str(small_base_weights), 32)
    model = build_classifier(base, DEFAULT_BASE, num_classes=3, image_size=32, head_units=8)
    head_weights = {w.name for w in model.trainable_weights}
    assert not base.trainable
    assert len(model.trainable_weights) == 4  # two Dense layers: kernel + bias each
    probabilities = model(np.random.rand(2, 32, 32, 3).astype("float32")).numpy()
    assert probabilities.shape == (2, 3)
    np.testing.assert_allclose(probabilities.sum(axis=1), 1.0, rtol=1e-5)

    trainable = unfreeze_top(base, 10)
    assert 0 < trainable <= 10
    assert len(model.trainable_weights) > len(head_weights)
    frozen_bn = [
        layer for layer in base.layers if isinstance(layer, tf.keras.layers.BatchNormalization)
    ]
    assert frozen_bn and not any(layer.trainable for layer in frozen_bn)
    assert not any(layer.trainable for layer in base.layers[:-10])
