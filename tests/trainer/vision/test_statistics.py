"""Image statistics: of an ingested folder, and of served {"b64"} instances, on the same terms."""

import base64

import numpy as np

from tests.conftest import jpeg_bytes, png_bytes
from trainer.vision.ingest import ingest_image_folder
from trainer.vision.statistics import dataset_statistics, image_properties, served_statistics


def test_image_properties_are_size_mode_format_and_brightness():
    grey = np.full((10, 20), 100, dtype=np.uint8)
    properties = image_properties(png_bytes(grey))
    assert properties == {
        "image_width": 20,
        "image_height": 10,
        "image_mode": "L",
        "image_format": "PNG",
        "image_brightness": 100.0,
    }
    rgb = image_properties(jpeg_bytes(np.zeros((600, 800, 3))))
    assert (rgb["image_width"], rgb["image_height"], rgb["image_mode"]) == (800, 600, "RGB")
    assert rgb["image_format"] == "JPEG" and rgb["image_brightness"] < 2
    assert image_properties(b"not an image") is None


def test_dataset_statistics_count_classes_sizes_and_skipped_files(make_image_folder, tmp_path):
    source = make_image_folder({"cat": 20, "dog": 20}, size=16)
    (source / "cat" / "broken.png").write_bytes(b"\x89PNG broken")
    manifest = ingest_image_folder(str(source), tmp_path / "dataset", min_images_per_class=5)

    statistics = dataset_statistics(tmp_path / "dataset", manifest)

    features = statistics["features"]
    assert features["label"]["stats"]["frequencies"] == {"cat": 20, "dog": 20}
    assert features["image_width"]["stats"]["min"] == features["image_width"]["stats"]["max"] == 16
    assert features["image_mode"]["stats"]["frequencies"] == {"RGB": 40}
    assert 100 < features["image_brightness"]["stats"]["mean"] < 155  # uniform random pixels
    assert statistics["details"]["files_skipped_by_reason"] == {"not an image": 1}
    assert statistics["details"]["images_per_class_and_split"]["cat"]["total"] == 20
    assert statistics["dataset"]["examples"] == 40


def test_served_images_give_the_same_features_without_the_label():
    image = png_bytes(np.full((16, 16, 3), 200))
    instances = [
        {"b64": base64.b64encode(image).decode()},
        {"image_bytes": {"b64": base64.b64encode(image).decode()}},
        {"b64": "%%% not base64"},
        "a text, not an image",
    ]
    statistics = served_statistics(instances, "log", {"input": {"name": "image_bytes"}})
    assert "label" not in statistics["features"]
    assert statistics["features"]["image_width"]["stats"]["count"] == 2
    assert statistics["features"]["image_brightness"]["stats"]["mean"] == 200.0
    assert statistics["details"]["instances"] == {"served": 4, "unreadable": 2}
