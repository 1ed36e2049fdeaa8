"""Reading text sources: formats, local / gs:// / bq:// sources, and rows that are no row."""

from __future__ import annotations

import collections
import csv
import io
import json

import pytest

from serving.contracts.errors import InputError
from tests.trainer.text.text_sources import (
    assignments,
    dropped,
    records,
    upload,
    write_csv,
    write_jsonl,
)
from trainer.text.cleaning import MALFORMED
from trainer.text.ingest import ingest_text_file
from trainer.text.readers import read_source


def _read(source, text_field="text", label_field="label"):
    counter: collections.Counter = collections.Counter()
    return read_source(str(source), text_field, label_field, counter), counter


def test_csv_rows_with_quoting_and_malformed_lines(tmp_path):
    buffer = io.StringIO()
    writer = csv.writer(buffer)
    writer.writerow(["text", "label", "id"])
    writer.writerow(['He said "hi", then\nleft, twice', "pos", 1])
    writer.writerow(["", 7, 2])  # an empty value is still a row: cleaning decides
    writer.writerow(["too", "many", "fields", 3])  # malformed
    writer.writerow([4])  # malformed
    # A byte-order mark, which must not become part of the first column's name.
    raw = b"\xef\xbb\xbf" + buffer.getvalue().encode("utf-8") + b"\r\n"  # a blank line
    source = tmp_path / "reviews.csv"
    source.write_bytes(raw)

    rows, counter = _read(source)

    assert rows.format == "csv"
    assert rows.rows == [('He said "hi", then\nleft, twice', "pos"), ("", "7")]
    assert rows.rows_read == 4
    assert counter == {MALFORMED: 2}


def test_jsonl_rows_keep_raw_values_and_count_lines_that_are_no_object(tmp_path):
    lines = [
        b'\xef\xbb\xbf{"text": "first", "label": "a"}',  # a byte-order mark
        '{"text": "one\u2028line", "label": 1}'.encode(),  # U+2028 does not end a line
        b'{"text": ["a", "list"]}',  # an object: its values are for cleaning
        b"[1, 2, 3]",  # malformed
        b"not json",  # malformed
        b'{"text": "caf\\udce9", "label": "a"}',  # a lone surrogate: for cleaning to drop
        b"   ",  # blank lines are not rows
    ]
    source = tmp_path / "rows.json"
    source.write_bytes(b"\n".join(lines) + b"\n")

    rows, counter = _read(source)

    assert rows.format == "jsonl"
    assert rows.rows == [
        ("first", "a"),
        ("one\u2028line", 1),
        (["a", "list"], None),
        ("caf\udce9", "a"),
    ]
    assert rows.rows_read == 6
    assert counter == {MALFORMED: 2}


@pytest.mark.parametrize("suffix", [".csv", ".jsonl"])
def test_very_long_text_truncated_not_dropped(tmp_path, suffix):
    rows = records({"pos": 10, "neg": 10})
    rows[0]["text"] = "long " * 20_000  # 100,000 characters
    rows[1]["text"] = "x" * 200_000  # beyond the csv module's default field limit
    path = tmp_path / f"long{suffix}"
    source = write_csv(path, rows) if suffix == ".csv" else write_jsonl(path, rows)
    limit_before = csv.field_size_limit()

    manifest = ingest_text_file(str(source), tmp_path / "dataset", max_chars=300)

    assert csv.field_size_limit() == limit_before
    assert manifest["truncated"] == 2
    assert manifest["max_chars"] == 300
    assert manifest["dropped_by_reason"] == dropped()
    kept = assignments(tmp_path / "dataset")
    assert len(kept) == 20
    assert max(len(t) for t in kept) == 300
    assert "x" * 300 in kept
    assert ("long " * 60).strip() in kept


def test_missing_csv_column_lists_the_header(tmp_path):
    source = write_csv(tmp_path / "cols.csv", records({"a": 5}), fields=("body", "category"))
    with pytest.raises(InputError, match=r"'text' or 'label'.*\['body', 'category'\]"):
        ingest_text_file(str(source), tmp_path / "dataset")
    renamed = [{"body": r["text"], "category": r["label"]} for r in records({"a": 5, "b": 5})]
    manifest = ingest_text_file(
        str(write_csv(tmp_path / "ok.csv", renamed, ("body", "category"))),
        tmp_path / "dataset",
        text_field="body",
        label_field="category",
    )
    assert manifest["classes"] == ["a", "b"]


def test_empty_csv_refused(tmp_path):
    source = tmp_path / "empty.csv"
    source.write_bytes(b"\r\n\r\n")
    with pytest.raises(InputError, match=r"empty\.csv' is empty: expected a CSV header row"):
        _read(source)


def test_missing_jsonl_field_lists_the_fields_found(tmp_path):
    rows = [{"review": f"text {i}", "label": "a", "id": i} for i in range(10)]
    source = write_jsonl(tmp_path / "fields.jsonl", rows)
    dataset = tmp_path / "dataset"
    with pytest.raises(InputError, match=r"'text'.*\['id', 'label', 'review'\]"):
        ingest_text_file(str(source), dataset)
    assert not dataset.exists()


def test_json_array_file_refused_with_the_fix(tmp_path):
    source = tmp_path / "array.json"
    source.write_text(json.dumps(records({"a": 5, "b": 5}), indent=2))
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


def test_a_directory_is_not_a_source_file(tmp_path):
    (tmp_path / "folder.csv").mkdir()
    with pytest.raises(InputError, match=r"folder\.csv' is not a file"):
        _read(tmp_path / "folder.csv")


@pytest.mark.parametrize("suffix", [".csv", ".jsonl"])
def test_gcs_source_matches_local(gcs_emulator, tmp_path, suffix):
    rows = records({"pos": 15, "neg": 15, "neutral": 15})
    path = tmp_path / f"local{suffix}"
    local = write_csv(path, rows) if suffix == ".csv" else write_jsonl(path, rows)
    with local.open("ab") as handle:
        handle.write(b"\n" if suffix == ".csv" else b'{"text": "\\ud800", "label": "pos"}\n')
    uri = upload("text-ingest", f"data/reviews{suffix}", local.read_bytes())

    remote = ingest_text_file(uri, tmp_path / "remote")
    here = ingest_text_file(str(local), tmp_path / "here")

    assert remote["source_uri"] == uri
    assert {k: v for k, v in remote.items() if k != "source_uri"} == {
        k: v for k, v in here.items() if k != "source_uri"
    }
    assert assignments(tmp_path / "remote") == assignments(tmp_path / "here")


def test_gcs_missing_bucket_and_object_named(gcs_emulator, tmp_path):
    upload("text-ingest-present", "other.csv", b"text,label\n")
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
