"""A small ingested digits dataset and a quickly trained model, shared by the trainer tests."""

from pathlib import Path

import pytest

from trainer.image_ingest import ingest_image_folder
from trainer.pretrain_base import DEFAULT_BASE
from trainer.vision_training import VisionTrainConfig, train_image_classifier


@pytest.fixture(scope="session")
def digits_dataset(digits_dir, tmp_path_factory) -> Path:
    dataset = tmp_path_factory.mktemp("dataset") / "dataset"
    ingest_image_folder(str(digits_dir), dataset, validation_fraction=0.15, test_fraction=0.15)
    return dataset


def quick_config(weights: Path, **overrides) -> VisionTrainConfig:
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
    model_dir = tmp_path_factory.mktemp("model") / "model"
    metrics = train_image_classifier(digits_dataset, model_dir, quick_config(small_base_weights))
    return model_dir, metrics
