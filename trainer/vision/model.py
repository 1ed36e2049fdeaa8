"""Transfer-learning image classifier: a tf.keras.applications base + a new head.

The model takes float images in [0, 1]; each base's own preprocessing is a
layer inside the model, so callers never need to know which base is used.
"""

from __future__ import annotations

import logging
import tempfile
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

import tensorflow as tf

from serving.contracts.errors import InputError
from serving.contracts.storage import download_object

log = logging.getLogger(__name__)


@dataclass(frozen=True)
class BaseSpec:
    build: Callable[..., tf.keras.Model]
    preprocess: Callable[[tf.Tensor], tf.Tensor]  # takes pixels in [0, 255]
    min_size: int


_apps = tf.keras.applications
BASES: dict[str, BaseSpec] = {
    "resnet50": BaseSpec(_apps.ResNet50, _apps.resnet50.preprocess_input, 32),
    "mobilenet_v2": BaseSpec(_apps.MobileNetV2, _apps.mobilenet_v2.preprocess_input, 32),
    "mobilenet_v3_small": BaseSpec(_apps.MobileNetV3Small, _apps.mobilenet_v3.preprocess_input, 32),
    "mobilenet_v3_small_minimalistic": BaseSpec(
        lambda **kw: _apps.MobileNetV3Small(minimalistic=True, **kw),
        _apps.mobilenet_v3.preprocess_input,
        32,
    ),
    "efficientnet_b0": BaseSpec(_apps.EfficientNetB0, _apps.efficientnet.preprocess_input, 32),
}


def base_spec(name: str) -> BaseSpec:
    if name not in BASES:
        raise InputError(f"Unknown base_model {name!r}: choose one of {sorted(BASES)}.")
    return BASES[name]


def resolve_base_weights(base_weights: str) -> str:
    """'imagenet' or the path of a local weights file; never random initialisation.

    gs:// weight files are downloaded to a local temporary directory first.
    """
    if not base_weights or base_weights.strip().lower() in {"none", "random"}:
        raise InputError(
            "base_weights is empty: transfer learning needs pretrained weights. Use 'imagenet' "
            "(downloads on first use) or the path of a weights file (make pretrained builds one "
            "offline)."
        )
    if base_weights == "imagenet":
        return base_weights
    if base_weights.startswith("gs://"):
        cache = Path(tempfile.gettempdir()) / "base-weights"
        cache.mkdir(exist_ok=True)
        return str(download_object(base_weights, cache))
    if not Path(base_weights).is_file():
        raise InputError(
            f"Base weights file {base_weights!r} does not exist: build it with "
            "`make pretrained` or pass base_weights=imagenet."
        )
    return base_weights


def build_base(base_model: str, base_weights: str, image_size: int) -> tf.keras.Model:
    """The pretrained base without its top, weights loaded from `base_weights`."""
    spec = base_spec(base_model)
    if image_size < spec.min_size:
        raise InputError(
            f"image_size {image_size} is below {spec.min_size}, the minimum of {base_model}."
        )
    weights = resolve_base_weights(base_weights)
    try:
        base = spec.build(
            include_top=False, weights=weights, input_shape=(image_size, image_size, 3)
        )
    except ValueError as exc:
        raise InputError(
            f"Could not load base weights {base_weights!r} into {base_model} at image_size "
            f"{image_size}: {exc}. The file must come from the same base and input size."
        ) from exc
    log.info("Base %s loaded with weights from %s", base_model, base_weights)
    return base


def build_classifier(
    base: tf.keras.Model,
    base_model: str,
    num_classes: int,
    image_size: int,
    head_units: int = 128,
    dropout: float = 0.2,
) -> tf.keras.Model:
    """Frozen base -> GlobalAveragePooling2D -> Dropout -> Dense(relu) -> Dense(softmax)."""
    base.trainable = False
    inputs = tf.keras.Input((image_size, image_size, 3), name="image")
    x = tf.keras.layers.Rescaling(255.0, name="to_pixels")(inputs)
    x = base_spec(base_model).preprocess(x)
    # training=False keeps BatchNormalization in inference mode, also when fine-tuning.
    x = base(x, training=False)
    x = tf.keras.layers.GlobalAveragePooling2D()(x)
    x = tf.keras.layers.Dropout(dropout)(x)
    x = tf.keras.layers.Dense(head_units, activation="relu")(x)
    outputs = tf.keras.layers.Dense(num_classes, activation="softmax", name="probabilities")(x)
    return tf.keras.Model(inputs, outputs, name=f"{base_model}_classifier")


def unfreeze_top(base: tf.keras.Model, layers: int) -> int:
    """Make the top `layers` layers of the base trainable (BatchNorm stays frozen)."""
    base.trainable = True
    for i, layer in enumerate(base.layers):
        top = i >= len(base.layers) - layers
        layer.trainable = top and not isinstance(layer, tf.keras.layers.BatchNormalization)
    return sum(1 for layer in base.layers if layer.trainable)
