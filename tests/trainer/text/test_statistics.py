"""Text statistics: of an ingested dataset, and of served texts, on the same terms."""

import json

import pytest

from trainer.text.statistics import dataset_statistics, served_statistics, text_features


def test_text_features_measure_length_words_and_non_ascii():
    features, details = text_features(["Hello world", "héllo", ""])
    assert features["text_length"]["stats"]["max"] == 11
    assert features["text_words"]["stats"]["quantiles"]["0.5"] == 1
    assert features["text_non_ascii"]["stats"]["max"] == pytest.approx(1 / 5)
    assert details["characters"] == {"total": 16, "non_ascii_share": pytest.approx(1 / 16)}
    assert {"token": "world", "count": 1} in details["most_frequent_tokens"]
    assert {"token": "héllo", "count": 1} in details["most_frequent_tokens"]


def test_dataset_statistics_read_the_examples_and_the_manifest(tmp_path):
    rows = [("late parcel", "delivery"), ("refund please", "billing"), ("late again", "delivery")]
    with (tmp_path / "examples.jsonl").open("w") as handle:
        for text, label in rows:
            handle.write(json.dumps({"text": text, "label": label, "split": "train"}) + "\n")
    manifest = {
        "source_uri": "gs://b/texts.csv",
        "examples_file": "examples.jsonl",
        "counts": {"train": {"billing": 1, "delivery": 2}},
        "dropped_by_reason": {"duplicate text": 4},
    }
    statistics = dataset_statistics(tmp_path, manifest)
    assert statistics["features"]["label"]["stats"]["frequencies"] == {"delivery": 2, "billing": 1}
    assert statistics["details"]["rows_dropped_by_reason"] == {"duplicate text": 4}
    assert statistics["details"]["most_frequent_tokens"][0] == {"token": "late", "count": 2}


def test_served_texts_are_strings_or_one_field_objects():
    statistics = served_statistics(
        ["abc", {"text": "abcdef"}, 42], "log", {"input": {"name": "text"}}
    )
    assert statistics["features"]["text_length"]["stats"]["count"] == 2
    assert statistics["features"]["text_length"]["stats"]["max"] == 6
    assert statistics["details"]["instances"] == {"served": 3, "unreadable": 1}
