"""image_problem: which files the ingest step accepts as images, and why it refuses others."""

import io

import numpy as np
import pytest
from PIL import Image

from tests.conftest import jpeg_bytes, png_bytes
from trainer.vision.image_files import image_problem

PIXELS = np.random.default_rng(0).integers(0, 255, (16, 16, 3))


def _gif_bytes() -> bytes:
    buffer = io.BytesIO()
    Image.fromarray(PIXELS.astype(np.uint8)).save(buffer, format="GIF")
    return buffer.getvalue()


@pytest.mark.parametrize(
    ("name", "content"),
    [
        ("colour.png", png_bytes(PIXELS)),
        ("colour.jpg", jpeg_bytes(PIXELS)),
        ("grey.png", png_bytes(np.full((16, 16), 128))),
        ("no_extension", png_bytes(PIXELS)),
    ],
)
def test_complete_png_and_jpeg_are_usable(tmp_path, name, content):
    path = tmp_path / name
    path.write_bytes(content)
    assert image_problem(path) is None


@pytest.mark.parametrize(
    ("name", "content", "reason"),
    [
        ("half.png", png_bytes(PIXELS)[: len(png_bytes(PIXELS)) // 2], "corrupt or truncated"),
        ("half.jpg", jpeg_bytes(PIXELS)[: len(jpeg_bytes(PIXELS)) // 2], "corrupt or truncated"),
        ("empty.png", b"", "zero-byte file"),
        ("notes.png", b"this is text, not a picture\n", "not an image"),
        ("anim.gif", _gif_bytes(), "unsupported image format GIF"),
        # The content is a valid PNG: the leading dot alone makes it skipped.
        (".hidden.png", png_bytes(PIXELS), "hidden file"),
    ],
)
def test_unusable_files_get_a_reason(tmp_path, name, content, reason):
    path = tmp_path / name
    path.write_bytes(content)
    problem = image_problem(path)
    assert problem is not None
    assert problem.startswith(reason)


def test_multi_picture_jpeg_from_phones_is_accepted(tmp_path):
    path = tmp_path / "phone.jpg"
    frames = [Image.new("RGB", (16, 16), colour) for colour in ("red", "blue")]
    frames[0].save(path, format="MPO", save_all=True, append_images=frames[1:])
    with Image.open(path) as image:
        assert image.format == "MPO"
    assert image_problem(path) is None


def test_decompression_bomb_is_skipped_not_raised(tmp_path, monkeypatch):
    path = tmp_path / "huge.png"
    Image.new("RGB", (64, 64)).save(path)
    monkeypatch.setattr(Image, "MAX_IMAGE_PIXELS", 1000)  # 64*64 > 2 * 1000 pixels
    assert image_problem(path).startswith("image too large")
