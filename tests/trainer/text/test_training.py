"""Training and evaluation of the text classifier on an ingested dataset."""

from __future__ import annotations

import json

import numpy as np
import pytest
from sklearn import metrics as sk

from serving.contracts.errors import InputError
from trainer.text.config import TextTrainConfig
from trainer.text.demo_data import write_messages_jsonl
from trainer.text.embedding_module import write_text_embedding_module
from trainer.text.evaluation import evaluate_text_classifier
from trainer.text.ingest import ingest_text_file, read_text_split
from trainer.text.training import train_text_classifier


@pytest.fixture(scope="module")
def hub_module(tmp_path_factory):
    return write_text_embedding_module(tmp_path_factory.mktemp("hub") / "embed", 2048, 16)


@pytest.fixture(scope="module")
def dataset(tmp_path_factory):
    root = tmp_path_factory.mktemp("text")
    corpus = write_messages_jsonl(root / "messages.jsonl", count=450)
    ingest_text_file(str(corpus), root / "dataset")
    return root / "dataset"


@pytest.fixture(scope="module")
def trained(hub_module, dataset, tmp_path_factory):
    model_dir = tmp_path_factory.mktemp("model") / "model"
    config = TextTrainConfig(hub_handle=str(hub_module), epochs=6, learning_rate=0.005)
    return model_dir, train_text_classifier(dataset, model_dir, config)


def test_training_learns_the_task_and_records_it(trained):
    model_dir, metrics = trained
    assert metrics["val_accuracy"] > 0.7  # three balanced classes: chance is 1/3
    metadata = json.loads((model_dir / "metadata.json").read_text())
    assert metadata["task"] == "text_classification"
    assert metadata["classes"] == ["billing", "shipping", "technical"]
    assert metadata["embedding_size"] == 16
    assert metadata["training_params"]["trainable"] is True


def test_evaluation_scores_match_scikit_learn(trained, dataset):
    import tensorflow as tf

    model_dir, _ = trained
    result = evaluate_text_classifier(model_dir, dataset, accuracy_threshold=0.5)
    texts, labels = read_text_split(dataset, "test")
    serve = tf.saved_model.load(str(model_dir)).signatures["serving_default"]
    predicted = [x.decode() for x in serve(text=tf.constant(texts))["label"].numpy()]
    assert result["accuracy"] == pytest.approx(sk.accuracy_score(labels, predicted))
    assert result["macro_f1"] == pytest.approx(sk.f1_score(labels, predicted, average="macro"))
    assert result["confusion_matrix"] == sk.confusion_matrix(labels, predicted).tolist()
    _, train_labels = read_text_split(dataset, "train")
    majority = max(set(train_labels), key=train_labels.count)
    assert result["baseline_accuracy"] == pytest.approx(np.mean(np.array(labels) == majority))
    assert result["blessed"] == (result["accuracy"] >= 0.5)
    assert "roc_auc" not in result  # three classes


def test_a_model_not_above_the_threshold_is_not_blessed(trained, dataset):
    model_dir, _ = trained
    result = evaluate_text_classifier(model_dir, dataset, accuracy_threshold=1.0)
    assert result["accuracy"] < 1.0  # 4% of the generated labels are wrong
    assert not result["blessed"]
    assert "threshold 1.0000" in result["reason"]


def test_binary_evaluation_reports_roc_auc(hub_module, tmp_path):
    rows = [{"text": f"great stay {i}", "label": "good"} for i in range(20)]
    rows += [{"text": f"awful stay {i}", "label": "bad"} for i in range(20)]
    source = tmp_path / "reviews.jsonl"
    source.write_text("\n".join(json.dumps(r) for r in rows))
    ingest_text_file(str(source), tmp_path / "dataset")
    config = TextTrainConfig(hub_handle=str(hub_module), epochs=8, learning_rate=0.01)
    train_text_classifier(tmp_path / "dataset", tmp_path / "model", config)
    result = evaluate_text_classifier(tmp_path / "model", tmp_path / "dataset", 0.5)
    assert result["classes"] == ["bad", "good"]
    assert 0.0 <= result["roc_auc"] <= 1.0
    assert result["roc_auc"] >= 0.9  # "great" vs "awful" separates the classes


def test_a_handle_that_is_not_there_fails_before_training(dataset, tmp_path):
    config = TextTrainConfig(hub_handle=str(tmp_path / "no-module"))
    with pytest.raises(InputError, match="does not exist here"):
        train_text_classifier(dataset, tmp_path / "model", config)
    assert not (tmp_path / "model").exists()


@pytest.mark.parametrize(
    ("overrides", "message"),
    [({"epochs": 0}, "epochs"), ({"dropout": 1.0}, "dropout"), ({"learning_rate": 0}, "learning")],
)
def test_bad_settings_are_named(overrides, message, dataset, hub_module, tmp_path):
    config = TextTrainConfig(hub_handle=str(hub_module), **overrides)
    with pytest.raises(InputError, match=message):
        train_text_classifier(dataset, tmp_path / "model", config)


def test_evaluating_on_another_dataset_is_refused(trained, tmp_path):
    model_dir, _ = trained
    rows = [{"text": f"text {i}", "label": "a" if i % 2 else "b"} for i in range(30)]
    source = tmp_path / "other.jsonl"
    source.write_text("\n".join(json.dumps(r) for r in rows))
    ingest_text_file(str(source), tmp_path / "other")
    with pytest.raises(InputError, match="trained on classes"):
        evaluate_text_classifier(model_dir, tmp_path / "other", 0.5)


def test_a_worse_challenger_is_held_back_by_the_champion(trained, dataset, hub_module, tmp_path):
    """A model that barely trained (one epoch at a tiny rate) against the trained champion."""
    champion, _ = trained
    config = TextTrainConfig(hub_handle=str(hub_module), epochs=1, learning_rate=1e-6)
    train_text_classifier(dataset, tmp_path / "worse", config)
    worse = evaluate_text_classifier(tmp_path / "worse", dataset, 0.0, champion_dir=champion)
    assert worse["champion"]["champion"] > worse["accuracy"] + 0.2, worse["reason"]
    assert not worse["champion"]["passed"] and not worse["blessed"]
    assert "champion" in worse["reason"] and "higher is better" in worse["reason"]
    better = evaluate_text_classifier(champion, dataset, 0.0, champion_dir=tmp_path / "worse")
    assert better["champion"]["passed"]
    assert better["champion"]["champion"] == worse["accuracy"]  # both scored on the same texts
