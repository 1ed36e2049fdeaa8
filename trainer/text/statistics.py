"""The text case's data statistics: of an ingested text dataset, and of served texts.

Features (the same for training data and served traffic): label (training data
only), text_length (characters), text_words (word tokens) and text_non_ascii
(the share of a text's characters outside ASCII). Details: examples per split and
class, rows dropped at ingest by reason, the share of non-ASCII characters in all
texts, and the most frequent tokens.
"""

from __future__ import annotations

import collections
import json
import re
from collections.abc import Iterable
from pathlib import Path

from trainer.data_validation.feature_stats import (
    CATEGORICAL,
    NUMERIC,
    categorical_stats,
    feature,
    numeric_stats,
)
from trainer.data_validation.statistics import statistics_document

TOP_TOKENS = 30
_TOKEN = re.compile(r"\w+")


def text_features(texts: Iterable[str]) -> tuple[dict, dict]:
    """(features, details) of texts: their length, words, non-ASCII share and top tokens."""
    lengths, words, shares = [], [], []
    tokens: collections.Counter = collections.Counter()
    characters = non_ascii = 0
    for text in texts:
        found = _TOKEN.findall(text.lower())
        tokens.update(found)
        outside = sum(1 for c in text if ord(c) > 127)
        lengths.append(len(text))
        words.append(len(found))
        shares.append(outside / len(text) if text else 0.0)
        characters += len(text)
        non_ascii += outside
    features = {
        "text_length": feature(NUMERIC, "derived", numeric_stats(lengths), "characters"),
        "text_words": feature(NUMERIC, "derived", numeric_stats(words), "word tokens"),
        "text_non_ascii": feature(
            NUMERIC, "derived", numeric_stats(shares), "share of characters outside ASCII"
        ),
    }
    details = {
        "characters": {
            "total": characters,
            "non_ascii_share": round(non_ascii / characters, 6) if characters else 0.0,
        },
        "most_frequent_tokens": [
            {"token": token, "count": count} for token, count in tokens.most_common(TOP_TOKENS)
        ],
    }
    return features, details


def dataset_statistics(dataset_dir: str | Path, manifest: dict) -> dict:
    """The statistics document of an ingested text dataset (its manifest as ingest wrote it)."""
    labels, texts = [], []
    with (Path(dataset_dir) / manifest["examples_file"]).open(encoding="utf-8") as handle:
        for line in handle:
            record = json.loads(line)
            texts.append(record["text"])
            labels.append(record["label"])
    features, details = text_features(texts)
    features["label"] = feature(CATEGORICAL, "label", categorical_stats(labels), "class")
    details = {
        "examples_per_split_and_class": manifest["counts"],
        "rows_dropped_by_reason": manifest["dropped_by_reason"],
        **details,
    }
    return statistics_document("text", manifest["source_uri"], len(texts), features, details)


def served_statistics(instances: list, source: str, model_metadata: dict) -> dict:
    """The statistics document of served instances: texts, or objects holding one under the
    model's input name (its metadata's)."""
    name = model_metadata.get("input", {}).get("name", "")
    texts = [text for text in (_instance_text(i, name) for i in instances) if text is not None]
    features, details = text_features(texts)
    details["instances"] = {"served": len(instances), "unreadable": len(instances) - len(texts)}
    return statistics_document("text", source, len(instances), features, details)


def _instance_text(instance: object, input_name: str) -> str | None:
    if isinstance(instance, dict) and input_name in instance:
        instance = instance[input_name]  # {"text": "..."}
    return instance if isinstance(instance, str) else None
