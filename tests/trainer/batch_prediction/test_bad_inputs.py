"""Bad batch inputs: a clear InputError before anything is written, or an error row; a job
that stops half-way leaves no output that looks complete. On a small real SavedModel
(`window` [N, 3] -> its sums x 2, tests/serving/conftest.py)."""

from __future__ import annotations

import json
from pathlib import Path

import duckdb
import pytest

from serving.contracts.errors import InputError
from serving.registry.local_registry import LocalModelRegistry
from serving.server.loaded_model import LoadedModel
from tests.serving.conftest import export_scaler
from trainer.batch_prediction.job import local_job
from trainer.batch_prediction.model_choice import chosen_version
from trainer.batch_prediction.output_layout import ERRORS, RESULTS, complete_shards
from trainer.batch_prediction.predict import batch_predict
from trainer.batch_prediction.sources import resolve_source
from trainer.batch_prediction.table_output import TableOutput
from trainer.batch_prediction.writer import ShardedOutput


@pytest.fixture(scope="module")
def scaler(tmp_path_factory) -> LoadedModel:
    return LoadedModel("scaler", 1, export_scaler(tmp_path_factory.mktemp("m") / "x2", 2.0))


@pytest.mark.parametrize(
    ("source", "message"),
    [
        ("", "No batch prediction source"),
        ("s3://bucket/x.jsonl", "Unsupported scheme 's3'"),
        ("bq://just-a-table", "neither a query nor a table reference"),
    ],
)
def test_a_source_that_is_no_source_is_refused(source, message):
    with pytest.raises(InputError, match=message):
        resolve_source(source)


def test_a_missing_file_an_empty_file_and_a_wrong_csv_header(scaler, tmp_path):
    out = str(tmp_path / "out")
    with pytest.raises(InputError, match="names no file"):
        batch_predict(scaler, resolve_source(str(tmp_path / "none.jsonl")), out)
    (tmp_path / "empty.jsonl").write_text("\n")
    with pytest.raises(InputError, match="holds no instances"):
        batch_predict(scaler, resolve_source(str(tmp_path / "empty.jsonl")), out)
    (tmp_path / "one.csv").write_text("values\n1\n")
    with pytest.raises(InputError, match="this model takes 'window'"):
        batch_predict(scaler, resolve_source(str(tmp_path / "one.csv")), out)
    assert not list((tmp_path / "out").iterdir())  # nothing left behind, not even staging


def test_unknown_versions_and_aliases_are_named(tmp_path, scaler):
    registry = LocalModelRegistry(tmp_path / "registry")
    with pytest.raises(InputError, match=r"has no versions .* train one first"):
        chosen_version(registry, "scaler", "")
    registry.register("scaler", scaler.path)
    registry.register("scaler", scaler.path, champion=False)
    assert chosen_version(registry, "scaler", "") == 1  # the champion
    assert chosen_version(registry, "scaler", "2") == 2
    with pytest.raises(InputError, match=r"no version or alias 'canary'.*\[1, 2\].*champion"):
        chosen_version(registry, "scaler", "canary")
    (tmp_path / "in.jsonl").write_text("[1, 2, 3]\n")
    with pytest.raises(InputError, match="give local_database"):
        local_job(str(registry.root), "scaler", "", str(tmp_path / "in.jsonl"), "bq://p")
    with pytest.raises(InputError, match="give bq://project, in which a new dataset"):
        local_job(str(registry.root), "scaler", "", str(tmp_path / "in.jsonl"), "bq://p.d", "", "x")


def test_bad_rows_are_errors_and_the_output_is_whole(scaler, tmp_path):
    lines = ["[1, 2, 3]", "[1, 2, 3", '["a", 2, 3]', "[1, null, 3]", "[0, 0, 1]"] * 3
    (tmp_path / "in.jsonl").write_text("\n".join(lines) + "\n")
    summary = batch_predict(
        scaler, resolve_source(str(tmp_path / "in.jsonl")), str(tmp_path / "out"), 4, shard_lines=2
    )
    folder = Path(summary.output_uri)
    names = sorted(p.name for p in folder.iterdir())
    shards = complete_shards(names)
    assert len(shards["prediction.results"]) == 3 and len(shards["prediction.errors_stats"]) == 5
    assert set(names) == {*shards["prediction.results"], *shards["prediction.errors_stats"]}
    errors = [json.loads(x) for s in shards["prediction.errors_stats"] for x in (folder / s).open()]
    codes = {json.dumps(e["instance"]): e["error"]["code"] for e in errors}
    # not JSON and not a number: refused like the server refuses them; a NaN fails in the model
    assert codes == {'"[1, 2, 3"': 3, '["a", 2, 3]': 3, "[1, null, 3]": 13}
    assert (summary.results, summary.errors) == (6, 9)
    assert sorted(p.name for p in folder.parent.iterdir()) == [folder.name]


def test_one_image_file_is_one_instance(scaler, tmp_path):
    (tmp_path / "digit.png").write_bytes(b"\x89PNG not really")
    summary = batch_predict(scaler, resolve_source(str(tmp_path / "digit.png")), str(tmp_path))
    assert (summary.results, summary.errors) == (0, 1)  # a {"b64"} this model refuses


def test_a_job_that_stops_leaves_nothing_complete(scaler, tmp_path):
    (tmp_path / "in.jsonl").write_bytes(b"[1, 2, 3]\n" * 5 + b"\xff\xfe not text\n")
    with pytest.raises(InputError, match="is not UTF-8"):
        batch_predict(scaler, resolve_source(str(tmp_path / "in.jsonl")), str(tmp_path / "out"))
    assert not list((tmp_path / "out").iterdir())
    assert complete_shards(["prediction.results-00000-of-00002"]) == {}


def test_an_output_that_is_a_file_is_refused_by_name(tmp_path):
    (tmp_path / "predictions").write_text("a file")
    with pytest.raises(InputError, match=r"output_uri '.*predictions' is a file, not a folder"):
        ShardedOutput(str(tmp_path / "predictions"), "job")
    with pytest.raises(InputError, match="cannot make the folder"):
        ShardedOutput(str(tmp_path / "predictions" / "below"), "job")
    assert (tmp_path / "predictions").read_text() == "a file"


def test_a_commit_that_fails_half_way_is_undone(tmp_path):
    """The final folder appears (another job) before the rename: commit fails, abort leaves
    that folder as it was and nothing of this job."""
    output = ShardedOutput(str(tmp_path), "job", shard_lines=1)
    output.write(RESULTS, {"instance": 1, "prediction": 2})
    (tmp_path / "job").mkdir()
    (tmp_path / "job" / "theirs").write_text("x")
    with pytest.raises(OSError):
        output.commit()
    output.abort()
    assert sorted(p.name for p in tmp_path.rglob("*")) == ["job", "theirs"]


def test_nan_and_infinities_are_row_errors_in_every_source(scaler, tmp_path):
    """JSON has no NaN or infinity: from CSV, JSONL and BigQuery (the DuckDB stand-in) such a
    row is an error with its raw value, and the job goes on."""
    (tmp_path / "in.csv").write_text("a,b,c\n1,2,3\nnan,1,1\n1,inf,1\n1,1,1e999\n")
    (tmp_path / "in.jsonl").write_text("[1, 2, 3]\n[1e999, 1, 1]\n")
    database = tmp_path / "warehouse.duckdb"
    with duckdb.connect(str(database)) as connection:
        connection.execute('CREATE SCHEMA batch; CREATE TABLE batch.t ("window" DOUBLE[])')
        connection.execute("INSERT INTO batch.t VALUES ([1, 2, 3]), (['nan'::DOUBLE, 1, 1])")
    expected = {
        "in.csv": ["nan,1,1", "1,inf,1", "1,1,1e999"],
        "in.jsonl": ["[1e999, 1, 1]"],
        "bq://p.batch.t": [{"window": ["nan", 1.0, 1.0]}],
    }
    for name, instances in expected.items():
        source = name if name.startswith("bq://") else str(tmp_path / name)
        out = tmp_path / "out" / name.replace("/", "_")
        summary = batch_predict(scaler, resolve_source(source), str(out), 2, str(database))
        folder = Path(summary.output_uri)
        [shard] = complete_shards(sorted(p.name for p in folder.iterdir()))[
            "prediction.errors_stats"
        ]
        errors = [json.loads(line) for line in (folder / shard).open()]
        assert [e["instance"] for e in errors] == instances, name
        assert all("NaN and infinities" in e["error"]["message"] for e in errors), errors
        assert summary.results == 1

    # a prediction that is not finite (a model's NaN) is that instance's error, not a crash
    output = ShardedOutput(str(tmp_path / "nan"), "job")
    output.write(RESULTS, {"instance": [1, 2], "prediction": {"total": float("nan")}})
    assert output.counts == {RESULTS: 0, ERRORS: 1}
    output.abort()


def test_csv_that_is_not_utf8_or_not_csv(scaler, tmp_path):
    """A file that is not UTF-8 is refused by name; a row csv cannot read (a field over csv's
    size limit) is that row's error, with its raw text, and the job goes on (a NUL byte, which
    Python 3.11's csv reads, is a value the server refuses)."""
    (tmp_path / "latin1.csv").write_bytes("a,b,c\n1,2,3\n1,2,\xe9\n".encode("latin-1"))
    with pytest.raises(InputError, match=r"latin1.csv is not UTF-8"):
        batch_predict(scaler, resolve_source(str(tmp_path / "latin1.csv")), str(tmp_path / "o"))
    huge = '"' + "9" * 200_000 + '"'
    (tmp_path / "in.csv").write_text(f"a,b,c\n1,2,3\n1,\0,3\n1,2,{huge}\n0,0,1\n")
    summary = batch_predict(scaler, resolve_source(str(tmp_path / "in.csv")), str(tmp_path / "o"))
    folder = Path(summary.output_uri)
    shards = complete_shards(sorted(p.name for p in folder.iterdir()))
    errors = [json.loads(x) for s in shards["prediction.errors_stats"] for x in (folder / s).open()]
    messages = {json.dumps(e["instance"]): e["error"]["message"] for e in errors}
    assert set(messages) == {json.dumps(f"1,2,{huge}"), json.dumps([1.0, "\0", 3.0])}
    assert "row 4 is not CSV: field larger than field limit" in messages[json.dumps(f"1,2,{huge}")]
    assert summary.results == 2


def test_bigquery_output_takes_its_columns_from_every_row(tmp_path):
    """DuckDB infers JSON columns from a sample of 20,480 rows by default: a row after it with
    a column of its own (a raw line's `instance`) must still be in the table."""
    database = tmp_path / "warehouse.duckdb"
    duckdb.connect(str(database)).close()
    output = TableOutput("bq://p", str(database), "ds")
    for _ in range(20_481):
        output.write(ERRORS, {"instance": {"window": [1.0]}, "error": {"code": 3, "message": "m"}})
    output.write(ERRORS, {"instance": "not json", "error": {"code": 3, "message": "m"}})
    assert output.commit() == "bq://p.ds"
    with duckdb.connect(str(database), read_only=True) as connection:
        rows = connection.sql("SELECT instance FROM ds.errors WHERE instance IS NOT NULL")
        assert rows.fetchall() == [("not json",)]
