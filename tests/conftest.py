"""Shared fixtures: a real storage emulator, demo images, pretrained base weights, the trained
vision and text models."""

from __future__ import annotations

import io
import os
from collections.abc import Callable
from pathlib import Path

import numpy as np
import pytest
from PIL import Image

os.environ.setdefault("TF_USE_LEGACY_KERAS", "1")
os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")
# every server a test starts is one process unless the test asks for --workers (the
# default is one per core: two servers of four processes each would slow CI down)
os.environ.setdefault("WEB_CONCURRENCY", "1")
# pipelines are built without the exit handler of VERTEX_NOTIFICATION_EMAILS unless a test
# asks for it (a developer's .env would otherwise change every compiled Vertex spec)
os.environ.pop("VERTEX_NOTIFICATION_EMAILS", None)

REPO = Path(__file__).resolve().parent.parent


@pytest.fixture
def saved_aiplatform_config():
    """Restore the aiplatform SDK's global settings after the test: aiplatform.init keeps an
    endpoint, transport and credentials that a later init without them would inherit."""
    from google.cloud.aiplatform import initializer

    settings = vars(initializer.global_config)
    saved = dict(settings)
    try:
        yield
    finally:
        settings.clear()
        settings.update(saved)


@pytest.fixture(scope="session")
def gcs_emulator() -> str:
    """gcp-storage-emulator on 127.0.0.1 for the session; STORAGE_EMULATOR_HOST is set."""
    from pipelines.local.gcs_emulator import running_gcs_emulator

    with running_gcs_emulator() as host:
        yield host


def png_bytes(pixels: np.ndarray) -> bytes:
    buffer = io.BytesIO()
    Image.fromarray(pixels.astype(np.uint8)).save(buffer, format="PNG")
    return buffer.getvalue()


def jpeg_bytes(pixels: np.ndarray) -> bytes:
    buffer = io.BytesIO()
    Image.fromarray(pixels.astype(np.uint8)).save(buffer, format="JPEG")
    return buffer.getvalue()


@pytest.fixture
def make_image_folder(tmp_path: Path) -> Callable[..., Path]:
    """Write class folders of small random PNGs: make_image_folder({'cat': 12, 'dog': 12})."""

    def make(counts: dict[str, int], root: Path | None = None, size: int = 16) -> Path:
        root = root or tmp_path / "source"
        rng = np.random.default_rng(0)
        for label, count in counts.items():
            folder = root / label
            folder.mkdir(parents=True, exist_ok=True)
            for i in range(count):
                pixels = rng.integers(0, 255, (size, size, 3))
                (folder / f"{label}_{i:03d}.png").write_bytes(png_bytes(pixels))
        return root

    return make


@pytest.fixture(scope="session")
def digits_dir(tmp_path_factory) -> Path:
    """The demo data: scikit-learn digits 0-4 as PNG class folders."""
    from trainer.vision.demo_data import CASE_STUDY_DIGITS, write_digit_folders

    root = tmp_path_factory.mktemp("digits")
    write_digit_folders(root, CASE_STUDY_DIGITS)
    return root


@pytest.fixture(scope="session")
def small_base_weights(tmp_path_factory) -> Path:
    """A quickly pretrained 32 px base: real weights from a file, not trained to quality."""
    from trainer.vision.pretrain_base import pretrain_base

    out = tmp_path_factory.mktemp("base") / "small-base.h5"
    pretrain_base(out, image_size=32, epochs=2)
    return out


@pytest.fixture(scope="session")
def demo_base_weights() -> Path:
    """The base `make run` uses (digits 5-9, 64 px), built once into build/pretrained."""
    from pipelines.vision.demo import pretrained_base

    return pretrained_base(REPO / "build")


@pytest.fixture(scope="session")
def digits_dataset(digits_dir, tmp_path_factory) -> Path:
    from trainer.vision.ingest import ingest_image_folder

    dataset = tmp_path_factory.mktemp("dataset") / "dataset"
    ingest_image_folder(str(digits_dir), dataset, validation_fraction=0.15, test_fraction=0.15)
    return dataset


def quick_config(weights: Path, **overrides):
    """A VisionTrainConfig on the offline base, small enough for tests."""
    from trainer.vision.config import VisionTrainConfig
    from trainer.vision.pretrain_base import DEFAULT_BASE

    settings = {
        "base_model": DEFAULT_BASE,
        "base_weights": str(weights),
        "image_size": 32,
        "batch_size": 64,
        "head_epochs": 2,
        "fine_tune_epochs": 1,
        "fine_tune_layers": 5,
        "augment_flip": "none",
    }
    return VisionTrainConfig(**{**settings, **overrides})


@pytest.fixture(scope="session")
def trained_model(digits_dataset, small_base_weights, tmp_path_factory) -> tuple[Path, dict]:
    from trainer.vision.training import train_image_classifier

    model_dir = tmp_path_factory.mktemp("model") / "model"
    metrics = train_image_classifier(digits_dataset, model_dir, quick_config(small_base_weights))
    return model_dir, metrics


@pytest.fixture(scope="session")
def trained_text_model(tmp_path_factory) -> Path:
    """A text classifier on 150 demo messages and a small hashing embedding (2 epochs)."""
    from trainer.text.config import TextTrainConfig
    from trainer.text.demo_data import write_messages_jsonl
    from trainer.text.embedding_module import write_text_embedding_module
    from trainer.text.ingest import ingest_text_file
    from trainer.text.training import train_text_classifier

    root = tmp_path_factory.mktemp("text")
    hub = write_text_embedding_module(root / "hub", 1024, 8)
    ingest_text_file(str(write_messages_jsonl(root / "messages.jsonl", count=150)), root / "data")
    config = TextTrainConfig(hub_handle=str(hub), epochs=2, batch_size=32)
    train_text_classifier(root / "data", root / "model", config)
    return root / "model"
