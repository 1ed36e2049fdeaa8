"""Evaluation through the serving signature, the blessing and its refusals."""

import json
import shutil

import numpy as np
import pytest

from pipelines.vision.demo import DEMO_ACCURACY_THRESHOLD, DEMO_TRAINING
from serving.contracts.errors import InputError
from tests.conftest import quick_config
from trainer.evaluation.classification_metrics import (
    confusion_matrix,
    macro_f1,
    per_class_scores,
    roc_auc,
)
from trainer.vision.evaluation import evaluate_image_classifier
from trainer.vision.ingest import read_manifest
from trainer.vision.training import train_image_classifier


def test_confusion_matrix_and_per_class_scores():
    matrix = confusion_matrix([0, 0, 1, 1, 2], [0, 1, 1, 1, 0], 3)
    assert matrix.tolist() == [[1, 1, 0], [0, 2, 0], [1, 0, 0]]
    scores = per_class_scores(matrix, ["a", "b", "c"])
    assert scores["a"] == {"precision": 0.5, "recall": 0.5, "f1": 0.5, "support": 2}
    assert scores["b"]["precision"] == pytest.approx(2 / 3) and scores["b"]["recall"] == 1.0
    assert scores["c"] == {"precision": 0.0, "recall": 0.0, "f1": 0.0, "support": 1}
    assert scores["b"]["f1"] == pytest.approx(0.8)  # 2 * (2/3) * 1 / (2/3 + 1)
    assert macro_f1(scores) == pytest.approx((0.5 + 0.8 + 0.0) / 3)


def test_roc_auc_is_the_chance_a_positive_outscores_a_negative():
    assert roc_auc([0.9, 0.8, 0.2, 0.1], [1, 1, 0, 0]) == 1.0
    assert roc_auc([0.1, 0.2, 0.8, 0.9], [1, 1, 0, 0]) == 0.0
    assert roc_auc([0.5, 0.5, 0.5], [1, 0, 0]) == 0.5  # ties count half
    assert roc_auc([0.9, 0.3, 0.6, 0.1], [1, 0, 1, 0]) == 1.0
    assert roc_auc([0.9, 0.7, 0.8, 0.1], [1, 0, 0, 1]) == 0.5  # 2 of 4 pairs ordered
    assert np.isnan(roc_auc([0.3, 0.4], [1, 1]))


def test_evaluation_counts_the_test_split_and_blesses_by_threshold(trained_model, digits_dataset):
    model_dir, _ = trained_model
    manifest = read_manifest(digits_dataset)
    result = evaluate_image_classifier(model_dir, digits_dataset, accuracy_threshold=0.0)
    n_test = sum(1 for f in manifest["files"] if f["split"] == "test")
    matrix = np.array(result["confusion_matrix"])
    assert result["num_examples"] == n_test == matrix.sum()
    assert matrix.sum(axis=1).tolist() == [
        manifest["counts"][c]["test"] for c in manifest["classes"]
    ]
    assert result["accuracy"] == pytest.approx(np.trace(matrix) / n_test)
    assert result["blessed"] is True
    strict = evaluate_image_classifier(model_dir, digits_dataset, accuracy_threshold=1.0)
    assert strict["blessed"] is (result["accuracy"] >= 1.0)
    assert "threshold" in strict["reason"]


def test_model_of_other_classes_is_refused(trained_model, digits_dataset, tmp_path):
    model_dir, _ = trained_model
    other = tmp_path / "dataset"
    shutil.copytree(digits_dataset, other)
    manifest = json.loads((other / "manifest.json").read_text())
    manifest["classes"] = ["cat", "dog"]
    (other / "manifest.json").write_text(json.dumps(manifest))
    with pytest.raises(InputError, match="trained on classes"):
        evaluate_image_classifier(model_dir, other, 0.5)


def test_incomplete_model_and_bad_threshold_are_refused(trained_model, digits_dataset, tmp_path):
    model_dir, _ = trained_model
    partial = tmp_path / "model"
    shutil.copytree(model_dir, partial)
    (partial / "metadata.json").unlink()
    with pytest.raises(FileNotFoundError, match="incomplete"):
        evaluate_image_classifier(partial, digits_dataset, 0.5)
    with pytest.raises(InputError, match="accuracy_threshold"):
        evaluate_image_classifier(model_dir, digits_dataset, 1.5)


def test_shuffled_labels_cannot_pass_the_demo_bar(digits_dataset, demo_base_weights, tmp_path):
    """With `make run`'s settings, a model trained on shuffled labels is not blessed.

    The other half, that the same settings on the real labels are blessed, is
    test_vision_pipeline's demo run (the same data, settings and threshold).
    """
    config = quick_config(demo_base_weights, **DEMO_TRAINING)
    shuffled = tmp_path / "shuffled"
    shutil.copytree(digits_dataset, shuffled)
    manifest = json.loads((shuffled / "manifest.json").read_text())
    train = [f for f in manifest["files"] if f["split"] != "test"]
    labels = np.random.default_rng(0).permutation([f["label"] for f in train])
    for entry, label in zip(train, labels, strict=True):
        entry["label"] = str(label)
    (shuffled / "manifest.json").write_text(json.dumps(manifest))
    train_image_classifier(shuffled, tmp_path / "bad", config)
    bad = evaluate_image_classifier(tmp_path / "bad", digits_dataset, DEMO_ACCURACY_THRESHOLD)

    assert not bad["blessed"] and bad["accuracy"] < 0.5, bad["reason"]


def test_the_champion_is_scored_on_the_same_test_images(trained_model, digits_dataset, tmp_path):
    model_dir, _ = trained_model
    report = tmp_path / "report.html"
    result = evaluate_image_classifier(
        model_dir, digits_dataset, 0.0, champion_dir=model_dir, report_path=report
    )
    assert result["champion"]["champion"] == result["accuracy"]  # the same model, same images
    assert result["champion"]["passed"] and result["blessed"]
    page = report.read_text()
    for part in ("confusion matrix", "training curves"):
        assert f'<img alt="{part}" src="data:image/png;base64,' in page
    assert f"<tr><td>champion</td><td>{result['accuracy']:.4f}</td></tr>" in page
    assert f"<tr><td>accuracy</td><td>{result['accuracy']:.4f}</td></tr>" in page
    assert page.count("<tr><td>digit_") == len(result["classes"])  # per-class rows
    other = tmp_path / "other-classes"
    shutil.copytree(model_dir, other)
    metadata = json.loads((other / "metadata.json").read_text())
    metadata["classes"] = ["cat", "dog"]
    (other / "metadata.json").write_text(json.dumps(metadata))
    result = evaluate_image_classifier(model_dir, digits_dataset, 0.0, champion_dir=other)
    assert result["champion"]["champion"] is None and result["blessed"]
    assert "champion not comparable" in result["reason"]
