"""Schema inference, a user's edited schema, and each kind of anomaly, on small statistics."""

import json

import pytest

from pipelines.local.gcs_emulator import upload_file
from serving.contracts.errors import InputError
from trainer.data_validation.anomalies import find_anomalies
from trainer.data_validation.feature_stats import (
    CATEGORICAL,
    NUMERIC,
    categorical_stats,
    feature,
    numeric_stats,
)
from trainer.data_validation.schema import infer_schema, read_schema, write_schema
from trainer.data_validation.statistics import statistics_document
from trainer.data_validation.tfmd import schema_proto, statistics_proto


def stats(temperature=(10.0, 12.0, 14.0, 20.0), labels=("a", "b", "a"), width=(8, 8)) -> dict:
    features = {
        "temperature": feature(NUMERIC, "column", numeric_stats(temperature)),
        "label": feature(CATEGORICAL, "label", categorical_stats(labels)),
        "image_width": feature(NUMERIC, "derived", numeric_stats(width)),
    }
    return statistics_document("test", "memory", len(temperature), features)


def kinds(anomalies) -> dict:
    return {a.feature: a.kind for a in anomalies}


def test_inferred_schema_holds_types_ranges_domains_and_missing_limits():
    schema = infer_schema(stats())
    temperature = schema["features"]["temperature"]
    assert temperature["type"] == "numeric" and temperature["required"] is True
    assert temperature["range"] == [10.0 - 2.5, 20.0 + 2.5]  # widened by a quarter of the span
    assert temperature["max_missing_fraction"] == 0.05
    assert schema["features"]["label"]["domain"] == ["a", "b"]
    assert schema["features"]["label"]["all_values_required"] is True
    # a derived feature is typed and required, but its values are free (drift watches them)
    assert set(schema["features"]["image_width"]) == {"type", "required", "max_missing_fraction"}
    assert find_anomalies(schema, stats()) == []


def test_only_a_vocabulary_gets_a_domain_so_fresh_dates_or_ids_are_no_anomaly():
    def document(columns: dict, labels) -> dict:
        features = {
            n: feature(CATEGORICAL, "column", categorical_stats(v)) for n, v in columns.items()
        }
        features["label"] = feature(CATEGORICAL, "label", categorical_stats(labels))
        return statistics_document("test", "memory", len(labels), features)

    days = [f"2013-01-{d:02d}" for d in range(1, 29)]
    first = document({"date": days, "city": ["Paris", "Oslo"] * 14}, ["a", "b"] * 14)
    schema = infer_schema(first)
    assert "domain" not in schema["features"]["date"]  # every value distinct: not a vocabulary
    assert schema["features"]["city"]["domain"] == ["Oslo", "Paris"]
    next_week = document(
        {"date": [d.replace("-01-", "-02-") for d in days], "city": ["Oslo"] * 28}, ["a", "b"] * 14
    )
    assert find_anomalies(schema, next_week) == []
    # more classes than the statistics keep: the label's class set is unknown, so not checked
    many = document({}, [f"class-{i}" for i in range(1500)])
    assert "domain" not in infer_schema(many)["features"]["label"]
    assert find_anomalies(infer_schema(many), many) == []


def test_each_kind_of_anomaly_names_the_feature_and_what_was_expected():
    schema = infer_schema(stats())
    shifted = find_anomalies(schema, stats(temperature=(40.0, 42.0)))
    assert kinds(shifted) == {"temperature": "out_of_range"}
    assert "[7.5, 22.5]" in shifted[0].expected and "[40, 42]" in shifted[0].found

    new_class = find_anomalies(schema, stats(labels=("a", "b", "c")))
    assert kinds(new_class) == {"label": "new_classes"} and "'c'" in new_class[0].found
    missing_class = find_anomalies(schema, stats(labels=("a", "a")))
    assert kinds(missing_class) == {"label": "missing_classes"} and "'b'" in missing_class[0].found

    holes = find_anomalies(schema, stats(temperature=(10.0, None, None, 12.0)))
    assert kinds(holes) == {"temperature": "missing_rate"} and "50.0%" in holes[0].found

    as_text = stats()
    as_text["features"]["temperature"] = feature(CATEGORICAL, "column", categorical_stats(["1,5"]))
    changed = find_anomalies(schema, as_text)
    assert kinds(changed) == {"temperature": "type_change"} and "'1,5'" in changed[0].found

    dropped = stats()
    del dropped["features"]["temperature"]
    assert kinds(find_anomalies(schema, dropped)) == {"temperature": "missing_feature"}
    infinite = find_anomalies(schema, stats(temperature=(10.0, float("inf"))))
    assert kinds(infinite) == {"temperature": "out_of_range"}


def test_a_schema_written_and_read_back_is_the_same(tmp_path):
    schema = infer_schema(stats())
    write_schema(tmp_path, schema)
    assert read_schema(tmp_path / "schema.json") == schema
    assert read_schema(tmp_path) == schema  # a directory holding schema.json
    assert 'name: "temperature"' in (tmp_path / "schema.pbtxt").read_text()


def test_a_pinned_schema_on_cloud_storage_is_read(gcs_emulator, tmp_path):
    schema = infer_schema(stats())
    write_schema(tmp_path, schema)
    upload_file(tmp_path / "schema.json", "gs://schemas/vision/schema.json")
    assert read_schema("gs://schemas/vision/schema.json") == schema
    assert read_schema("gs://schemas/vision/") == schema  # a folder holding schema.json
    with pytest.raises(InputError, match=r"schema_uri: cannot read a schema at .*does not exist"):
        read_schema("gs://schemas/vision/missing.json")
    (tmp_path / "latin1.json").write_bytes(b'{"features": "\xe9"}')
    upload_file(tmp_path / "latin1.json", "gs://schemas/latin1.json")
    with pytest.raises(InputError, match="is not UTF-8 text"):
        read_schema("gs://schemas/latin1.json")


@pytest.mark.parametrize(
    ("edit", "message"),
    [
        (lambda s: "not json", "is not JSON"),
        (lambda s: json.dumps({"schema_version": 1}), 'no "features"'),
        (lambda s: json.dumps({**s, "schema_version": 7}), "schema_version 7"),
        (lambda s: _edited(s, type="number"), "feature 'temperature' has type 'number'"),
        (lambda s: _edited(s, range=[30, 10]), r"range \[30, 10\]"),
        (lambda s: _edited(s, max_missing_fraction=2), "max_missing_fraction 2"),
        (lambda s: _edited(s, domian=["a"]), r"unknown keys \['domian'\]"),
        (lambda s: _edited(s, domain=["a"]), "has a domain but is not categorical"),
        (lambda s: _edited(s, required="yes"), "required 'yes'"),
    ],
)
def test_an_edited_schema_with_a_mistake_is_refused_naming_it(tmp_path, edit, message):
    path = tmp_path / "schema.json"
    path.write_text(edit(infer_schema(stats())))
    with pytest.raises(InputError, match=message) as error:
        read_schema(path)
    assert str(path) in str(error.value)


def test_a_missing_schema_file_is_named(tmp_path):
    with pytest.raises(InputError, match="no schema file at"):
        read_schema(tmp_path / "nope.json")


def test_the_tfmd_protos_carry_the_statistics_and_the_schema():
    proto = statistics_proto(stats())
    [dataset] = proto.datasets
    by_name = {f.path.step[0]: f for f in dataset.features}
    assert dataset.num_examples == 4
    assert by_name["temperature"].num_stats.max == 20.0
    assert sum(b.sample_count for b in by_name["temperature"].num_stats.histograms[0].buckets) == 4
    assert {v.value: v.frequency for v in by_name["label"].string_stats.top_values} == {
        "a": 2,
        "b": 1,
    }
    schema = {f.name: f for f in schema_proto(infer_schema(stats())).feature}
    assert list(schema["label"].string_domain.value) == ["a", "b"]
    assert schema["temperature"].float_domain.max == 22.5


def _edited(schema: dict, **changes) -> str:
    schema["features"]["temperature"].update(changes)
    return json.dumps(schema)
