"""The tf.data input pipeline: decoding, shapes, augmentation only in training."""

import numpy as np
import tensorflow as tf

from tests.conftest import jpeg_bytes, png_bytes
from trainer.vision.dataset import Augmentation, decode_image, make_dataset, split_files


def test_decode_png_and_jpeg_to_scaled_rgb():
    grey = np.full((10, 20), 255, dtype=np.uint8)
    colour = np.zeros((30, 30, 3), dtype=np.uint8)
    colour[..., 0] = 255
    for encoded in (png_bytes(grey), jpeg_bytes(colour)):
        image = decode_image(tf.constant(encoded), 24).numpy()
        assert image.shape == (24, 24, 3)
        assert image.dtype == np.float32
        assert image.min() >= 0.0 and image.max() <= 1.0
    red = decode_image(tf.constant(jpeg_bytes(colour)), 24).numpy()
    assert red[..., 0].mean() > 0.9 and red[..., 1].mean() < 0.1
    white = decode_image(tf.constant(png_bytes(grey)), 24).numpy()
    np.testing.assert_allclose(white, 1.0)


def _files(tmp_path, n=10):
    rng = np.random.default_rng(1)
    paths = []
    for i in range(n):
        path = tmp_path / f"{i}.png"
        path.write_bytes(png_bytes(rng.integers(0, 255, (12, 12, 3))))
        paths.append(str(path))
    return paths, [i % 2 for i in range(n)]


def test_evaluation_dataset_is_batched_deterministic_and_unaugmented(tmp_path):
    paths, labels = _files(tmp_path)
    ds = make_dataset(paths, labels, image_size=8, batch_size=4, training=False)
    batches = list(ds)
    assert [b[0].shape[0] for b in batches] == [4, 4, 2]
    images = np.concatenate([b[0].numpy() for b in batches])
    got_labels = np.concatenate([b[1].numpy() for b in batches])
    assert got_labels.tolist() == labels
    expected = np.stack([decode_image(tf.io.read_file(p), 8).numpy() for p in paths])
    np.testing.assert_allclose(images, expected, atol=1e-6)


def test_training_dataset_shuffles_and_augments(tmp_path):
    paths, labels = _files(tmp_path, 16)
    plain = make_dataset(paths, labels, 8, 16, training=False)
    augmented = make_dataset(
        paths, labels, 8, 16, training=True, augmentation=Augmentation("horizontal", 0.2, 0.2)
    )
    ((x_plain, y_plain),) = list(plain)
    ((x_aug, y_aug),) = list(augmented)
    assert sorted(y_aug.numpy().tolist()) == sorted(y_plain.numpy().tolist())
    assert y_aug.numpy().tolist() != y_plain.numpy().tolist(), "training order is shuffled"
    assert not np.allclose(np.sort(x_aug.numpy().ravel()), np.sort(x_plain.numpy().ravel())), (
        "augmentation changes the pixels"
    )
    assert x_aug.shape == x_plain.shape


def test_augmentation_layers_follow_configuration():
    assert [type(layer).__name__ for layer in Augmentation("none", 0.1, 0.0).layers(0).layers] == [
        "RandomRotation"
    ]
    names = [type(layer).__name__ for layer in Augmentation().layers(0).layers]
    assert names == ["RandomFlip", "RandomRotation", "RandomZoom"]


def test_split_files_reads_one_split_with_class_indices(tmp_path):
    manifest = {
        "classes": ["a", "b"],
        "files": [
            {"path": "images/a/1.png", "label": "a", "split": "train"},
            {"path": "images/b/2.png", "label": "b", "split": "train"},
            {"path": "images/b/3.png", "label": "b", "split": "test"},
        ],
    }
    paths, labels = split_files(tmp_path, manifest, "train")
    assert paths == [str(tmp_path / "images/a/1.png"), str(tmp_path / "images/b/2.png")]
    assert labels == [0, 1]
