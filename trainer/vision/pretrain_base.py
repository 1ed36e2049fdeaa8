"""Pretrain a base network offline, for transfer learning where ImageNet weights
cannot be downloaded.

The base (a tf.keras.applications network, no top) is trained on the demo
digits 5-9 and its weights saved to an .h5 file; the case study then loads
that file exactly as it would load 'imagenet' weights and learns digits 0-4.

    python -m trainer.vision.pretrain_base --out build/pretrained/base.weights.h5
"""

from __future__ import annotations

import argparse
import logging
import tempfile
from pathlib import Path

import tensorflow as tf

from serving.contracts.logs import setup_logging
from trainer.vision.dataset import Augmentation, make_dataset
from trainer.vision.demo_data import PRETRAIN_DIGITS, write_digit_folders
from trainer.vision.model import base_spec

log = logging.getLogger(__name__)

DEFAULT_BASE = "mobilenet_v3_small_minimalistic"
DEFAULT_IMAGE_SIZE = 64


def pretrain_base(
    out: str | Path,
    base_model: str = DEFAULT_BASE,
    image_size: int = DEFAULT_IMAGE_SIZE,
    epochs: int = 20,
    seed: int = 7,
) -> dict:
    """Train `base_model` from scratch on digits 5-9 and save its weights to `out`."""
    tf.keras.utils.set_random_seed(seed)
    with tempfile.TemporaryDirectory(prefix="pretrain-") as tmp:
        write_digit_folders(tmp, PRETRAIN_DIGITS)
        classes = sorted(p.name for p in Path(tmp).iterdir())
        paths, labels = [], []
        for i, name in enumerate(classes):
            files = sorted(str(p) for p in (Path(tmp) / name).glob("*.png"))
            paths += files
            labels += [i] * len(files)
        # The same augmentation the case study trains with, so the base's features
        # are already invariant to it (a mirrored digit is not a digit: no flips).
        augmentation = Augmentation(flip="none")
        ds = make_dataset(
            paths, labels, image_size, 32, training=True, augmentation=augmentation, seed=seed
        )
        spec = base_spec(base_model)
        base = spec.build(include_top=False, weights=None, input_shape=(image_size, image_size, 3))
        # A short run on little data: a faster BatchNorm momentum lets the moving
        # statistics converge, so the base works in inference mode afterwards.
        for layer in base.layers:
            if isinstance(layer, tf.keras.layers.BatchNormalization):
                layer.momentum = 0.9
        inputs = tf.keras.Input((image_size, image_size, 3))
        x = spec.preprocess(tf.keras.layers.Rescaling(255.0)(inputs))
        x = tf.keras.layers.GlobalAveragePooling2D()(base(x))
        outputs = tf.keras.layers.Dense(len(classes), activation="softmax")(x)
        model = tf.keras.Model(inputs, outputs)
        model.compile("adam", "sparse_categorical_crossentropy", metrics=["accuracy"])
        history = model.fit(ds, epochs=epochs, verbose=2)
    out = Path(out)
    out.parent.mkdir(parents=True, exist_ok=True)
    tmp_out = out.with_name(f".{out.name}.partial.h5")
    base.save_weights(str(tmp_out))
    tmp_out.replace(out)
    accuracy = float(history.history["accuracy"][-1])
    log.info(
        "Pretrained %s on digits %s: train accuracy %.3f -> %s",
        base_model,
        PRETRAIN_DIGITS,
        accuracy,
        out,
    )
    return {"base_model": base_model, "image_size": image_size, "train_accuracy": accuracy}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--out", required=True)
    parser.add_argument("--base-model", default=DEFAULT_BASE)
    parser.add_argument("--image-size", type=int, default=DEFAULT_IMAGE_SIZE)
    parser.add_argument("--epochs", type=int, default=20)
    args = parser.parse_args()
    setup_logging()
    pretrain_base(args.out, args.base_model, args.image_size, args.epochs)


if __name__ == "__main__":
    main()
