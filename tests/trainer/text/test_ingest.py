from __future__ import annotations

import csv
import io
import json
import random
from pathlib import Path

import pytest

from serving.contracts.errors import InputError
from trainer.text.ingest import (
    DROP_REASONS,
    EXAMPLES_FILE,
    MANIFEST,
    ingest_text_file,
    read_text_manifest,
    read_text_split,
)

SPLITS = ("train", "validation", "test")


def _records(counts: dict[str, int]) -> list[dict]:
    return [
        {"text": f"{label} review number {i}: words {i * 7 % 13}", "label": label}
        for label, n in counts.items()
        for i in range(n)
    ]


def _write_jsonl(path: Path, records: list) -> Path:
    path.write_text("".join(json.dumps(r) + "\n" for r in records), encoding="utf-8")
    return path


def _write_csv(path: Path, records: list[dict], fields=("text", "label")) -> Path:
    buffer = io.StringIO()
    writer = csv.writer(buffer)
    writer.writerow(fields)
    for record in records:
        writer.writerow([record.get(f, "") for f in fields])
    path.write_bytes(buffer.getvalue().encode("utf-8"))
    return path


def _assignments(dataset: Path) -> dict[str, tuple[str, str]]:
    """text -> (label, split), from the split readers."""
    out = {}
    for split in SPLITS:
        texts, labels = read_text_split(dataset, split)
        for text, label in zip(texts, labels, strict=True):
            assert text not in out, f"{text!r} is in two splits"
            out[text] = (label, split)
    return out


def _dropped(**nonzero: int) -> dict[str, int]:
    named = {r.replace(" ", "_").replace("-", "_").lower(): r for r in DROP_REASONS}
    expected = dict.fromkeys(DROP_REASONS, 0)
    for key, n in nonzero.items():
        expected[named[key]] = n
    return expected


def test_csv_binary_local(tmp_path):
    records = _records({"pos": 60, "neg": 60})
    source = _write_csv(tmp_path / "reviews.csv", records)
    dataset = tmp_path / "dataset"

    manifest = ingest_text_file(str(source), dataset)

    assert manifest == read_text_manifest(dataset)
    assert manifest["format"] == "csv"
    assert manifest["source_uri"] == str(source)
    assert manifest["classes"] == ["neg", "pos"]
    assert manifest["rows_read"] == 120
    assert manifest["dropped_by_reason"] == _dropped()
    assert manifest["truncated"] == 0
    assert manifest["max_chars"] == 2000
    assert (manifest["text_field"], manifest["label_field"]) == ("text", "label")
    assert sum(n for split in manifest["counts"].values() for n in split.values()) == 120
    got = _assignments(dataset)
    assert {t: label for t, (label, _) in got.items()} == {r["text"]: r["label"] for r in records}
    for split in SPLITS:
        for label in ("neg", "pos"):
            n = sum(1 for lab, s in got.values() if (lab, s) == (label, split))
            assert n == manifest["counts"][split][label] >= 1
    lines = (dataset / EXAMPLES_FILE).read_text(encoding="utf-8").splitlines()
    assert len(lines) == 120
    assert set(json.loads(lines[0])) == {"text", "label", "split"}


def test_jsonl_three_classes_stratified_fractions(tmp_path):
    counts = {"sport": 300, "politics": 300, "science": 300, "rare": 20}
    source = _write_jsonl(tmp_path / "news.jsonl", _records(counts))

    manifest = ingest_text_file(
        str(source), tmp_path / "dataset", validation_fraction=0.2, test_fraction=0.1
    )

    assert manifest["format"] == "jsonl"
    assert manifest["classes"] == sorted(counts)
    targets = {"train": 0.7, "validation": 0.2, "test": 0.1}
    for label, total in counts.items():
        per_split = {s: manifest["counts"][s][label] for s in SPLITS}
        assert sum(per_split.values()) == total
        assert min(per_split.values()) >= 1, (label, per_split)
        if total >= 300:
            for split, target in targets.items():
                assert abs(per_split[split] / total - target) < 0.06, (label, per_split)
    train_labels = set(read_text_split(tmp_path / "dataset", "train")[1])
    for split in ("validation", "test"):
        assert set(read_text_split(tmp_path / "dataset", split)[1]) <= train_labels


def test_every_class_reaches_every_split_even_when_hashing_misses_it(tmp_path):
    # 3 examples per class: hashing alone leaves most classes without one of the splits.
    counts = {f"class{i:02d}": 3 for i in range(12)}
    source = _write_jsonl(tmp_path / "tiny.jsonl", _records(counts))

    manifest = ingest_text_file(str(source), tmp_path / "dataset", min_examples_per_class=3)

    for label in counts:
        assert [manifest["counts"][s][label] for s in SPLITS] == [1, 1, 1]


def test_split_depends_on_text_not_file_order(tmp_path):
    records = _records({"a": 40, "b": 40, "c": 40})
    first = ingest_text_file(str(_write_jsonl(tmp_path / "one.jsonl", records)), tmp_path / "d1")
    shuffled = records[:]
    random.Random(7).shuffle(shuffled)
    second = ingest_text_file(str(_write_jsonl(tmp_path / "two.jsonl", shuffled)), tmp_path / "d2")
    as_csv = ingest_text_file(str(_write_csv(tmp_path / "three.csv", shuffled)), tmp_path / "d3")

    assert _assignments(tmp_path / "d1") == _assignments(tmp_path / "d2")
    assert _assignments(tmp_path / "d1") == _assignments(tmp_path / "d3")
    assert first["counts"] == second["counts"] == as_csv["counts"]
    # Not everything in one split: the assignment really depends on the text.
    assert len({split for _, split in _assignments(tmp_path / "d1").values()}) == 3


def test_jsonl_drop_reasons_counted(tmp_path):
    good = _records({"pos": 10, "neg": 10})
    lines = [json.dumps(r).encode() for r in good]
    lines += [
        b'{"text": "", "label": "pos"}',  # empty text
        b'{"text": "  \\t \\n ", "label": "pos"}',  # empty text
        b'{"label": "pos"}',  # missing text
        b'{"text": null, "label": "neg"}',  # missing text
        b'{"text": "no label here"}',  # missing label
        b'{"text": "null label", "label": null}',  # missing label
        b'{"text": "blank label", "label": "   "}',  # missing label
        b'{"text": "caf\xe9 latin-1", "label": "pos"}',  # invalid UTF-8
        b'\xff\xfe{"text": "bom junk", "label": "neg"}',  # invalid UTF-8
        b"[1, 2, 3]",  # malformed
        b"this is not json",  # malformed
        b'"just a string"',  # malformed
        b'{"text": ["a", "list"], "label": "pos"}',  # malformed
        json.dumps({"text": good[0]["text"], "label": "neg"}).encode(),  # duplicate
        json.dumps({"text": f"  {good[1]['text']}  ", "label": "pos"}).encode(),  # duplicate
        b"",  # blank lines are not rows
        b"   ",
    ]
    source = tmp_path / "messy.jsonl"
    source.write_bytes(b"\n".join(lines) + b"\n")

    manifest = ingest_text_file(str(source), tmp_path / "dataset")

    assert manifest["dropped_by_reason"] == _dropped(
        empty_text=2,
        missing_text=2,
        missing_label=3,
        invalid_utf_8=2,
        malformed_line=4,
        duplicate_text=2,
    )
    assert manifest["rows_read"] == 35
    kept = _assignments(tmp_path / "dataset")
    assert len(kept) == 20 == manifest["rows_read"] - sum(manifest["dropped_by_reason"].values())
    assert kept[good[0]["text"]][0] == "pos"  # the first occurrence wins
    assert {t for t in kept} == {r["text"] for r in good}


def test_csv_drop_reasons_counted_and_quoting_handled(tmp_path):
    good = _records({"pos": 8, "neg": 8})
    good.append({"text": 'He said "hi", then\nleft, twice', "label": "pos"})
    buffer = io.StringIO()
    writer = csv.writer(buffer)
    writer.writerow(["id", "text", "label"])
    for i, r in enumerate(good):
        writer.writerow([i, r["text"], r["label"]])
    writer.writerow([100, "", "pos"])  # empty text
    writer.writerow([101, "   ", "neg"])  # empty text
    writer.writerow([102, "has no label", ""])  # missing label
    writer.writerow([103, "too", "many", "fields"])  # malformed
    writer.writerow([104])  # malformed
    writer.writerow([105, good[2]["text"], "neg"])  # duplicate
    raw = buffer.getvalue().encode("utf-8") + b'106,"na\xefve \xff",pos\r\n'  # invalid UTF-8
    raw += b"\r\n"  # a blank line is not a row
    source = tmp_path / "reviews.csv"
    source.write_bytes(raw)

    manifest = ingest_text_file(str(source), tmp_path / "dataset")

    assert manifest["dropped_by_reason"] == _dropped(
        empty_text=2, missing_label=1, malformed_line=2, duplicate_text=1, invalid_utf_8=1
    )
    assert manifest["rows_read"] == 17 + 7
    kept = _assignments(tmp_path / "dataset")
    assert kept.keys() == {r["text"] for r in good}
    assert kept['He said "hi", then\nleft, twice'][0] == "pos"


def test_integer_labels_become_strings(tmp_path):
    records = [{"text": f"example {i}", "label": i % 2} for i in range(20)]
    records.append({"text": "spaced", "label": " 1 "})
    source = _write_jsonl(tmp_path / "ints.json", records)

    manifest = ingest_text_file(str(source), tmp_path / "dataset")

    assert manifest["classes"] == ["0", "1"]
    assert sum(manifest["counts"][s]["1"] for s in SPLITS) == 11
    labels = [lab for s in SPLITS for lab in read_text_split(tmp_path / "dataset", s)[1]]
    assert set(labels) == {"0", "1"}


@pytest.mark.parametrize("suffix", [".csv", ".jsonl"])
def test_very_long_text_truncated_not_dropped(tmp_path, suffix):
    records = _records({"pos": 10, "neg": 10})
    records[0]["text"] = "long " * 20_000  # 100,000 characters
    records[1]["text"] = "x" * 200_000  # beyond the csv module's default field limit
    path = tmp_path / f"long{suffix}"
    source = _write_csv(path, records) if suffix == ".csv" else _write_jsonl(path, records)
    limit_before = csv.field_size_limit()

    manifest = ingest_text_file(str(source), tmp_path / "dataset", max_chars=300)

    assert csv.field_size_limit() == limit_before
    assert manifest["truncated"] == 2
    assert manifest["max_chars"] == 300
    assert manifest["dropped_by_reason"] == _dropped()
    kept = _assignments(tmp_path / "dataset")
    assert len(kept) == 20
    assert max(len(t) for t in kept) == 300
    assert "x" * 300 in kept
    assert ("long " * 60).strip() in kept


def test_single_class_refused(tmp_path):
    source = _write_jsonl(tmp_path / "one.jsonl", _records({"pos": 12}))
    dataset = tmp_path / "dataset"
    with pytest.raises(InputError, match=r"at least 2 classes; found 1: 'pos' \(12 examples\)"):
        ingest_text_file(str(source), dataset)
    assert not dataset.exists()


def test_too_few_examples_per_class_refused(tmp_path):
    records = _records({"pos": 20, "neg": 20, "rare": 4})
    records.append(dict(records[-1]))  # a duplicate does not count towards the class
    source = _write_csv(tmp_path / "few.csv", records)
    dataset = tmp_path / "dataset"
    with pytest.raises(InputError, match=r"'rare' has 4.*at least 5") as error:
        ingest_text_file(str(source), dataset)
    assert "'pos'" not in str(error.value)
    assert not dataset.exists()


def test_missing_csv_column_lists_the_header(tmp_path):
    source = _write_csv(tmp_path / "cols.csv", _records({"a": 5}), fields=("body", "category"))
    with pytest.raises(InputError, match=r"'text' or 'label'.*\['body', 'category'\]"):
        ingest_text_file(str(source), tmp_path / "dataset")
    renamed = [{"body": r["text"], "category": r["label"]} for r in _records({"a": 5, "b": 5})]
    manifest = ingest_text_file(
        str(_write_csv(tmp_path / "ok.csv", renamed, ("body", "category"))),
        tmp_path / "dataset",
        text_field="body",
        label_field="category",
    )
    assert manifest["classes"] == ["a", "b"]


def test_missing_jsonl_field_lists_the_fields_found(tmp_path):
    records = [{"review": f"text {i}", "label": "a", "id": i} for i in range(10)]
    source = _write_jsonl(tmp_path / "fields.jsonl", records)
    dataset = tmp_path / "dataset"
    with pytest.raises(InputError, match=r"'text'.*\['id', 'label', 'review'\]"):
        ingest_text_file(str(source), dataset)
    assert not dataset.exists()


def test_json_array_file_refused_with_the_fix(tmp_path):
    source = tmp_path / "array.json"
    source.write_text(json.dumps(_records({"a": 5, "b": 5}), indent=2))
    with pytest.raises(InputError, match="one object per line"):
        ingest_text_file(str(source), tmp_path / "dataset")


def test_unknown_extension_refused(tmp_path):
    source = tmp_path / "reviews.txt"
    source.write_text("text,label\nhello,pos\n")
    with pytest.raises(InputError, match=r"reviews\.txt.*\.csv.*\.jsonl"):
        ingest_text_file(str(source), tmp_path / "dataset")
    assert not (tmp_path / "dataset").exists()


def test_missing_local_file_named(tmp_path):
    missing = tmp_path / "nowhere" / "data.csv"
    with pytest.raises(InputError, match=r"nowhere/data\.csv.*does not exist"):
        ingest_text_file(str(missing), tmp_path / "dataset")
    assert not (tmp_path / "dataset").exists()


@pytest.mark.parametrize(
    ("validation", "test", "named"),
    [
        (-0.1, 0.15, "validation_fraction"),
        (0.15, 1.0, "test_fraction"),
        (0.5, 0.5, "validation_fraction \\+ test_fraction"),
    ],
)
def test_bad_fractions_refused(tmp_path, validation, test, named):
    source = _write_jsonl(tmp_path / "ok.jsonl", _records({"a": 10, "b": 10}))
    with pytest.raises(InputError, match=named):
        ingest_text_file(
            str(source), tmp_path / "d", validation_fraction=validation, test_fraction=test
        )


def test_zero_validation_fraction_leaves_validation_empty(tmp_path):
    source = _write_jsonl(tmp_path / "ok.jsonl", _records({"a": 30, "b": 30}))
    manifest = ingest_text_file(
        str(source), tmp_path / "d", validation_fraction=0.0, test_fraction=0.2
    )
    assert read_text_split(tmp_path / "d", "validation") == ([], [])
    assert all(manifest["counts"][s][c] >= 1 for s in ("train", "test") for c in "ab")


def test_failure_while_writing_leaves_nothing(tmp_path, monkeypatch):
    source = _write_jsonl(tmp_path / "ok.jsonl", _records({"a": 10, "b": 10}))
    dataset = tmp_path / "dataset"
    dataset.mkdir()
    (dataset / "stale.txt").write_text("left by a killed attempt")

    def fail(*args, **kwargs):
        raise OSError("disk full")

    monkeypatch.setattr("trainer.text.ingest.write_json", fail)
    with pytest.raises(OSError, match="disk full"):
        ingest_text_file(str(source), dataset)
    assert not dataset.exists()


def test_readers_refuse_incomplete_dataset_and_unknown_split(tmp_path):
    (tmp_path / "half").mkdir()
    (tmp_path / "half" / EXAMPLES_FILE).write_text('{"text": "t", "label": "a", "split": "test"}\n')
    with pytest.raises(FileNotFoundError, match="incomplete"):
        read_text_split(tmp_path / "half", "test")
    source = _write_jsonl(tmp_path / "ok.jsonl", _records({"a": 10, "b": 10}))
    ingest_text_file(str(source), tmp_path / "full")
    assert (tmp_path / "full" / MANIFEST).is_file()
    with pytest.raises(InputError, match="'dev'"):
        read_text_split(tmp_path / "full", "dev")


def _upload(uri_bucket: str, name: str, data: bytes) -> str:
    from serving.contracts.storage import storage_client

    client = storage_client()
    bucket = client.bucket(uri_bucket)
    if not bucket.exists():
        bucket = client.create_bucket(uri_bucket)
    bucket.blob(name).upload_from_string(data)
    return f"gs://{uri_bucket}/{name}"


@pytest.mark.parametrize("suffix", [".csv", ".jsonl"])
def test_gcs_source_matches_local(gcs_emulator, tmp_path, suffix):
    records = _records({"pos": 15, "neg": 15, "neutral": 15})
    path = tmp_path / f"local{suffix}"
    local = _write_csv(path, records) if suffix == ".csv" else _write_jsonl(path, records)
    with local.open("ab") as handle:
        handle.write(b"\n" if suffix == ".csv" else b'{"text": "\xff", "label": "pos"}\n')
    uri = _upload("text-ingest", f"data/reviews{suffix}", local.read_bytes())

    remote = ingest_text_file(uri, tmp_path / "remote")
    here = ingest_text_file(str(local), tmp_path / "here")

    assert remote["source_uri"] == uri
    assert {k: v for k, v in remote.items() if k != "source_uri"} == {
        k: v for k, v in here.items() if k != "source_uri"
    }
    assert _assignments(tmp_path / "remote") == _assignments(tmp_path / "here")


def test_gcs_missing_bucket_and_object_named(gcs_emulator, tmp_path):
    _upload("text-ingest-present", "other.csv", b"text,label\n")
    with pytest.raises(InputError, match="'no-such-text-bucket'"):
        ingest_text_file("gs://no-such-text-bucket/data.csv", tmp_path / "d")
    with pytest.raises(InputError, match=r"gs://text-ingest-present/missing\.jsonl"):
        ingest_text_file("gs://text-ingest-present/missing.jsonl", tmp_path / "d")
    assert not (tmp_path / "d").exists()


def test_a_bigquery_table_or_query_is_a_source(tmp_path):
    """bq:// sources run through the time-series ingest's engines; here DuckDB, offline."""
    import duckdb

    database = tmp_path / "warehouse.duckdb"
    with duckdb.connect(str(database)) as connection:
        connection.execute("CREATE SCHEMA support")
        connection.execute(
            "CREATE TABLE support.tickets AS SELECT "
            "CASE WHEN i % 2 = 0 THEN 'refund charge ' || i ELSE 'parcel late ' || i END AS body,"
            " CASE WHEN i % 2 = 0 THEN 'billing' ELSE 'shipping' END AS team, i "
            "FROM range(40) t(i)"
        )
        connection.execute("INSERT INTO support.tickets VALUES ('', 'billing', 99)")
    manifest = ingest_text_file(
        "bq://my-project.support.tickets",
        tmp_path / "table",
        text_field="body",
        label_field="team",
        local_database=str(database),
    )
    assert manifest["format"] == "bigquery"
    assert manifest["classes"] == ["billing", "shipping"]
    assert manifest["rows_read"] == 41 and manifest["dropped_by_reason"]["empty text"] == 1
    query = "bq://SELECT body AS text, team AS label FROM `p.support.tickets` WHERE i < 20"
    manifest = ingest_text_file(query, tmp_path / "query", local_database=str(database))
    assert manifest["examples"] == 20
    with pytest.raises(InputError, match=r"no column 'text'.*\['body', 'team', 'i'\]"):
        ingest_text_file("bq://p.support.tickets", tmp_path / "bad", local_database=str(database))
    assert not (tmp_path / "bad").exists()


def test_a_label_outside_the_manifests_classes_is_refused_not_invented(tmp_path):
    """A test-split label the model never trained on must not be scored as if it were a class."""
    source = _write_jsonl(tmp_path / "ok.jsonl", _records({"a": 10, "b": 10}))
    ingest_text_file(str(source), tmp_path / "ds")
    examples = tmp_path / "ds" / EXAMPLES_FILE
    lines = examples.read_text().splitlines()
    lines.append(json.dumps({"text": "brand new", "label": "c", "split": "test"}))
    examples.write_text("\n".join(lines) + "\n")
    assert read_text_split(tmp_path / "ds", "train")[1]  # other splits still read
    with pytest.raises(InputError, match=r"label 'c', which is not one of .*\['a', 'b'\]"):
        read_text_split(tmp_path / "ds", "test")
