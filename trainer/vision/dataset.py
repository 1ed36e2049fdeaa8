"""tf.data input pipeline for an ingested image dataset (see trainer.vision.ingest).

decode (JPEG/PNG) -> resize to uint8 in a parallel map, cache (uint8: a
quarter of the memory of float32), shuffle, batch, scale to [0, 1], augment
(training only) and prefetch(AUTOTUNE). The same `decode_image` runs inside the
exported serving signature, so training and serving see identical pixels.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

import tensorflow as tf

AUTOTUNE = tf.data.AUTOTUNE
# Whole-dataset shuffles for small sets; a bounded buffer (memory) for large ones.
MAX_SHUFFLE_BUFFER = 10_000


@dataclass(frozen=True)
class Augmentation:
    """Random flip, rotation and zoom, applied to training batches only."""

    flip: str = "horizontal"  # "horizontal", "vertical", "horizontal_and_vertical" or "none"
    rotation: float = 0.1  # fraction of a full turn
    zoom: float = 0.1  # fraction of the image size

    def layers(self, seed: int) -> tf.keras.Sequential:
        stack = []
        if self.flip != "none":
            stack.append(tf.keras.layers.RandomFlip(self.flip, seed=seed))
        if self.rotation:
            stack.append(tf.keras.layers.RandomRotation(self.rotation, seed=seed))
        if self.zoom:
            stack.append(tf.keras.layers.RandomZoom(self.zoom, seed=seed))
        return tf.keras.Sequential(stack, name="augmentation")


def decode_rgb(image_bytes: tf.Tensor) -> tf.Tensor:
    """Encoded JPEG/PNG bytes -> uint8 [height, width, 3].

    The one decoder: training and the serving signature decode through it, and
    ingest runs it on every file, so a file that ingest keeps cannot fail here later.
    """
    image = tf.io.decode_image(image_bytes, channels=3, expand_animations=False)
    image.set_shape([None, None, 3])
    return image


def decode_resized(image_bytes: tf.Tensor, image_size: int) -> tf.Tensor:
    """Encoded JPEG/PNG bytes -> uint8 [image_size, image_size, 3]."""
    image = tf.image.resize(decode_rgb(image_bytes), [image_size, image_size])
    return tf.cast(tf.round(tf.clip_by_value(image, 0.0, 255.0)), tf.uint8)


def scale(images: tf.Tensor) -> tf.Tensor:
    """uint8 pixels -> float32 in [0, 1]."""
    return tf.cast(images, tf.float32) / 255.0


def decode_image(image_bytes: tf.Tensor, image_size: int) -> tf.Tensor:
    """Encoded JPEG/PNG bytes -> float32 [image_size, image_size, 3] in [0, 1]."""
    return scale(decode_resized(image_bytes, image_size))


def split_files(dataset_dir: str | Path, manifest: dict, split: str) -> tuple[list[str], list[int]]:
    """Absolute paths and integer labels (index into manifest['classes']) of one split."""
    index = {name: i for i, name in enumerate(manifest["classes"])}
    entries = [f for f in manifest["files"] if f["split"] == split]
    paths = [str(Path(dataset_dir) / f["path"]) for f in entries]
    return paths, [index[f["label"]] for f in entries]


def make_dataset(
    paths: list[str],
    labels: list[int],
    image_size: int,
    batch_size: int,
    training: bool,
    augmentation: Augmentation | None = None,
    seed: int = 0,
    cache: bool = True,
) -> tf.data.Dataset:
    """Batched (images, labels) dataset; shuffled and augmented when `training`."""
    if not paths:
        raise ValueError("make_dataset needs at least one file.")
    files = tf.data.Dataset.from_tensor_slices((paths, tf.constant(labels, tf.int32)))

    def load(path, label):
        return decode_resized(tf.io.read_file(path), image_size), label

    ds = files.map(load, num_parallel_calls=AUTOTUNE, deterministic=not training)
    if cache:
        ds = ds.cache()
    if training:
        ds = ds.shuffle(
            min(len(paths), MAX_SHUFFLE_BUFFER), seed=seed, reshuffle_each_iteration=True
        )
    ds = ds.batch(batch_size).map(lambda x, y: (scale(x), y), num_parallel_calls=AUTOTUNE)
    if training and augmentation is not None:
        augment = augmentation.layers(seed)
        ds = ds.map(
            lambda x, y: (augment(x, training=True), y),
            num_parallel_calls=AUTOTUNE,
            deterministic=False,
        )
    return ds.prefetch(AUTOTUNE)
