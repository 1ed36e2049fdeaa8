"""image_problem: which files the ingest step accepts as images, and why it refuses others."""

import numpy as np
import pytest
from PIL import Image

from tests.conftest import png_bytes
from tests.trainer.vision.broken_images import (
    BROKEN,
    GOOD_JPEG,
    GOOD_PNG,
    PIXELS,
    UNDECODABLE,
    encoded,
    pillow_decodes,
)
from trainer.vision.dataset import decode_rgb
from trainer.vision.image_files import image_problem


@pytest.mark.parametrize(
    ("name", "content"),
    [
        ("colour.png", GOOD_PNG),
        ("colour.jpg", GOOD_JPEG),
        ("grey.png", png_bytes(np.full((16, 16), 128))),
        ("no_extension", GOOD_PNG),
    ],
)
def test_complete_png_and_jpeg_are_usable(tmp_path, name, content):
    path = tmp_path / name
    path.write_bytes(content)
    assert image_problem(path) is None


@pytest.mark.parametrize(
    ("name", "content", "reason"),
    [
        *((name, content, reason) for name, (content, reason) in BROKEN.items()),
        ("notes.png", b"this is text, not a picture\n", "not an image"),
        ("anim.gif", encoded("GIF"), "unsupported image format GIF"),
        # The content is a valid PNG: the leading dot alone makes it skipped.
        (".hidden.png", GOOD_PNG, "hidden file"),
    ],
)
def test_unusable_files_get_a_reason(tmp_path, name, content, reason):
    path = tmp_path / name
    path.write_bytes(content)
    problem = image_problem(path)
    assert problem is not None
    assert problem.startswith(reason), problem
    assert "\n" not in problem and "Traceback" not in problem


@pytest.mark.parametrize("name", ["idat_bad_crc.png", "iend_bad_crc.png"])
def test_png_with_a_bad_crc_that_pillow_decodes_is_refused(tmp_path, name):
    """The issue's case: Pillow's full decode accepts it, training's decoder does not."""
    content, _ = BROKEN[name]
    assert pillow_decodes(content)
    path = tmp_path / name
    path.write_bytes(content)
    assert image_problem(path).startswith(f"{UNDECODABLE} (Invalid PNG data")


def test_the_reason_names_what_the_decoder_said_not_where_it_ran(tmp_path):
    path = tmp_path / "scan_cut.jpg"
    path.write_bytes(BROKEN["scan_cut.jpg"][0])
    problem = image_problem(path)
    assert "jpeg::Uncompress failed" in problem
    assert "function_node" not in problem and "{{" not in problem


def test_multi_picture_jpeg_from_phones_is_accepted(tmp_path):
    path = tmp_path / "phone.jpg"
    frames = [Image.new("RGB", (16, 16), colour) for colour in ("red", "blue")]
    frames[0].save(path, format="MPO", save_all=True, append_images=frames[1:])
    with Image.open(path) as image:
        assert image.format == "MPO"
    assert image_problem(path) is None


def test_decompression_bomb_is_skipped_before_decoding(tmp_path, monkeypatch):
    """The decoder is replaced by one that fails, to show the guard stops the file first."""
    path = tmp_path / "huge.png"
    Image.new("RGB", (64, 64)).save(path)
    monkeypatch.setattr(Image, "MAX_IMAGE_PIXELS", 1000)  # 64*64 > 2 * 1000 pixels

    def no_decode(image_bytes):
        raise AssertionError("a decompression bomb reached the decoder")

    monkeypatch.setattr("trainer.vision.image_files.decode_rgb", no_decode)
    assert image_problem(path).startswith("image too large")


def test_training_decodes_through_the_function_the_check_runs(monkeypatch):
    """A recording wrapper around decode_rgb: training's decode_resized must call it."""
    import tensorflow as tf

    from trainer.vision import dataset

    calls = []

    def recording(image_bytes):
        calls.append(image_bytes)
        return decode_rgb(image_bytes)

    monkeypatch.setattr(dataset, "decode_rgb", recording)
    resized = dataset.decode_resized(tf.constant(GOOD_PNG), PIXELS.shape[0]).numpy()
    assert len(calls) == 1
    np.testing.assert_array_equal(resized, PIXELS)
    np.testing.assert_array_equal(decode_rgb(GOOD_PNG).numpy(), PIXELS)
