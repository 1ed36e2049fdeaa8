"""Batch prediction of each case study's trained model gives, for every good instance, what
the project's online server answers over HTTP for it (the same serving_default signature);
the bad rows land in the errors output with their reason, and the job goes on.

Vision reads a folder of image files (one is not an image), text a JSONL file (a line that
is not JSON, an object with the wrong key), timeseries a BigQuery table on the DuckDB
stand-in and a CSV file (a short row). The server is the real one, on 127.0.0.1.
"""

from __future__ import annotations

import base64
import json
import shutil
from pathlib import Path

import duckdb
import pytest

from serving.registry.local_registry import LocalModelRegistry
from serving.server.deployments import Deployment
from serving.server.loaded_model import LoadedModel
from serving.server.model_server import ModelServer
from tests.serving.conftest import call, running_server, wait_ready
from trainer.batch_prediction.output_layout import complete_shards
from trainer.batch_prediction.predict import batch_predict
from trainer.batch_prediction.sources import resolve_source


def online(model_dir: Path, tmp_path: Path, instances: list) -> list:
    """The server's predictions for `instances`, one request."""
    registry = LocalModelRegistry(tmp_path / "registry")
    registry.register("model", model_dir)
    server = ModelServer({"model": Deployment(registry, "model")})
    with running_server(server) as base:
        wait_ready(base)
        status, answer = call(base, "/predict", {"instances": instances})
    assert status == 200, answer
    return answer["predictions"]


def batch(model_dir: Path, tmp_path: Path, source: str, **options) -> tuple[list, list]:
    """(results, errors) lines of a batch job on `source`, batches of 2."""
    model = LoadedModel("model", 1, model_dir)
    summary = batch_predict(model, resolve_source(source), str(tmp_path / "out"), 2, **options)
    folder = Path(summary.output_uri)
    shards = complete_shards(sorted(p.name for p in folder.iterdir()))
    assert set(shards) == {"prediction.results", "prediction.errors_stats"}

    def lines(kind: str) -> list:
        return [json.loads(line) for s in shards[kind] for line in (folder / s).open()]

    results, errors = lines("prediction.results"), lines("prediction.errors_stats")
    assert (summary.results, summary.errors) == (len(results), len(errors))
    return results, errors


def same(got: object, want: object) -> None:
    """Equal predictions: the same structure and text, numbers equal to float32 precision
    (a batch of 2 and a batch of all may round the last bit differently)."""
    if isinstance(want, dict):
        assert isinstance(got, dict) and got.keys() == want.keys()
        for key in want:
            same(got[key], want[key])
    elif isinstance(want, list):
        assert isinstance(got, list) and len(got) == len(want)
        for g, w in zip(got, want, strict=True):
            same(g, w)
    elif isinstance(want, float):
        assert got == pytest.approx(want, rel=1e-5, abs=1e-6)
    else:
        assert got == want


def test_vision_images_under_a_folder(trained_model, digits_dir, tmp_path):
    folder = tmp_path / "images"
    folder.mkdir()
    images = sorted(digits_dir.glob("digit_*/*.png"))[:5]
    for index, image in enumerate(images):
        shutil.copy(image, folder / f"{index}.png")
    (folder / "9-broken.png").write_bytes(b"these bytes are no image")
    results, errors = batch(trained_model[0], tmp_path, str(folder))
    instances = [{"b64": base64.b64encode(i.read_bytes()).decode()} for i in images]
    assert [r["instance"] for r in results] == instances
    same([r["prediction"] for r in results], online(trained_model[0], tmp_path, instances))
    [error] = errors
    assert (
        error["error"]["code"] == 3 and "not a PNG, JPEG, GIF or BMP" in error["error"]["message"]
    )


def test_text_jsonl_with_bad_lines(trained_text_model, tmp_path):
    texts = ["my parcel never arrived", "the app crashes at login", "refund please", "hi"]
    lines = [json.dumps({"text": t}) for t in texts[:2]] + ["{not json", '{"txt": "x"}']
    lines += [json.dumps(t) for t in texts[2:]] + [json.dumps(5)]
    (tmp_path / "in.jsonl").write_text("\n".join(lines) + "\n")
    results, errors = batch(trained_text_model, tmp_path, str(tmp_path / "in.jsonl"))
    instances = [{"text": t} for t in texts[:2]] + texts[2:]
    assert [r["instance"] for r in results] == instances
    same([r["prediction"] for r in results], online(trained_text_model, tmp_path, instances))
    assert [e["instance"] for e in errors] == ["{not json", {"txt": "x"}, 5]
    messages = [e["error"]["message"] for e in errors]
    assert "line 3 is not JSON" in messages[0]
    assert "keys ['txt']" in messages[1] and "expected a string" in messages[2]


def test_timeseries_from_bigquery_and_csv(trained_forecaster, tmp_path):
    model_dir, _ = trained_forecaster
    window = LoadedModel("model", 1, model_dir).input.shape[1]
    rows = [[float(10 + (i + d) % 7) for d in range(window)] for i in range(5)]
    database = tmp_path / "warehouse.duckdb"
    with duckdb.connect(str(database)) as connection:
        connection.execute("CREATE SCHEMA batch")
        connection.execute('CREATE TABLE batch.windows ("window" DOUBLE[])')
        connection.executemany("INSERT INTO batch.windows VALUES (?)", [[r] for r in rows])
        connection.execute("INSERT INTO batch.windows VALUES ([1.0, 2.0])")  # too short
    source = "bq://test-project.batch.windows"
    results, errors = batch(model_dir, tmp_path / "bq", source, local_database=str(database))
    expected = online(model_dir, tmp_path, rows)
    same([r["prediction"] for r in results], expected)
    assert [r["instance"] for r in results] == [{"window": r} for r in rows]
    assert errors[0]["instance"] == {"window": [1.0, 2.0]}
    assert "does not fit window" in errors[0]["error"]["message"]

    # BigQuery out: Vertex's dataset of `predictions` and `errors` tables, in the DuckDB file
    model = LoadedModel("model", 1, model_dir)
    summary = batch_predict(model, resolve_source(source), "bq://test-project", 4, str(database))
    dataset = summary.output_uri.removeprefix("bq://test-project.")
    assert dataset.startswith("prediction_model_")
    with duckdb.connect(str(database), read_only=True) as connection:
        table = connection.sql(f'SELECT "window", prediction FROM "{dataset}".predictions')
        [[first, prediction], *_] = table.fetchall()
        [[code]] = connection.sql(f'SELECT errors.code FROM "{dataset}".errors').fetchall()
    assert first == rows[0] and code == 3
    same(prediction, expected[0])  # a column of the prediction's own type (here a list)

    header = ",".join(f"t{d}" for d in range(window))
    body = "\n".join(",".join(map(str, r)) for r in rows)
    (tmp_path / "in.csv").write_text(f"{header}\n{body}\n1,2\n")
    results, errors = batch(model_dir, tmp_path / "csv", str(tmp_path / "in.csv"))
    same([r["prediction"] for r in results], expected)
    assert "row 7 has 2 fields; the header has" in errors[0]["error"]["message"]


@pytest.fixture(autouse=True)
def _fresh(tmp_path):
    for sub in ("bq", "csv"):
        (tmp_path / sub).mkdir()
