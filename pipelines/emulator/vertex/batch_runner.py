"""A BatchPredictionJob's work, as Vertex AI does it: the instances read from Cloud Storage or
BigQuery, sent in batches over HTTP to the model's serving container, and the answers
written in Vertex's output layout under the job's output prefix.

The instances are read and the layout written by the same code as the local batch job
(trainer.batch_prediction: readers, ShardedOutput), with Vertex's instance
transformation on top: BigQuery rows become arrays of their values unless
instance_type is `object`, and a CSV row is always an array. A batch the container
refuses (a 4xx) is sent again one instance at a time, so only the bad instances become
errors, with the container's status and message.
"""

from __future__ import annotations

import json
import threading
import urllib.error
import urllib.request
from dataclasses import dataclass
from pathlib import Path

from google.cloud import aiplatform_v1 as v1

from trainer.batch_prediction.output_layout import (
    ERRORS,
    INTERNAL,
    INVALID_ARGUMENT,
    RESULTS,
    error_line,
    job_directory,
    result_line,
)
from trainer.batch_prediction.readers import Row, read_rows
from trainer.batch_prediction.sources import BatchSource
from trainer.batch_prediction.writer import ShardedOutput

DEFAULT_BATCH_SIZE = 64  # Vertex AI's, when manual_batch_tuning_parameters leaves it 0
_REQUEST_TIMEOUT_S = 300


class JobCancelled(Exception):
    """The job was cancelled while it ran; nothing of its output is left."""


@dataclass(frozen=True)
class BatchOutcome:
    output_directory: str
    successful: int
    failed: int


def run_batch_job(
    job: v1.BatchPredictionJob,
    model_display_name: str,
    predict_url: str,
    bigquery_database: Path | None,
    cancel: threading.Event,
) -> BatchOutcome:
    """Predict every instance of `job`'s input with the container at `predict_url`."""
    output = ShardedOutput(
        job.output_config.gcs_destination.output_uri_prefix,
        job_directory(model_display_name, job.create_time),
    )
    size = job.manual_batch_tuning_parameters.batch_size or DEFAULT_BATCH_SIZE
    try:
        batch: list[object] = []
        for row in _rows(job, bigquery_database):
            if cancel.is_set():
                raise JobCancelled()
            if row.error:
                output.write(ERRORS, error_line(row.instance, INVALID_ARGUMENT, row.error))
                continue
            batch.append(row.instance)
            if len(batch) >= size:
                _send(predict_url, batch, output)
                batch = []
        if batch:
            _send(predict_url, batch, output)
        directory = output.commit()  # a commit that fails half-way is undone by abort()
    except BaseException:
        output.abort()
        raise
    return BatchOutcome(directory, output.counts[RESULTS], output.counts[ERRORS])


def _rows(job: v1.BatchPredictionJob, bigquery_database: Path | None):
    config = job.input_config
    form = config.instances_format
    if form == "bigquery":
        if bigquery_database is None:
            raise ValueError("the emulator was started without a BigQuery warehouse")
        objects = job.instance_config.instance_type == "object"
        source = BatchSource("bigquery", uri=config.bigquery_source.input_uri)
        for row in read_rows(source, "", str(bigquery_database)):
            yield row if objects else Row(list(row.instance.values()))
        return
    for uri in config.gcs_source.uris:
        for row in read_rows(BatchSource(form, uri=uri), "", as_vertex=True):
            csv_value = form == "csv" and not row.error and not isinstance(row.instance, list)
            yield Row([row.instance]) if csv_value else row


def _send(url: str, instances: list[object], output: ShardedOutput) -> None:
    status, answer = _post(url, {"instances": instances})
    predictions = answer.get("predictions") if status == 200 else None
    if isinstance(predictions, list) and len(predictions) == len(instances):
        for instance, prediction in zip(instances, predictions, strict=True):
            output.write(RESULTS, result_line(instance, prediction))
        return
    if len(instances) > 1 and status != 200:
        for instance in instances:
            _send(url, [instance], output)
        return
    code = INVALID_ARGUMENT if 400 <= status < 500 else INTERNAL
    message = answer.get("error") or f"the container answered {status} without predictions"
    for instance in instances:
        output.write(ERRORS, error_line(instance, code, str(message)))


def _post(url: str, payload: dict) -> tuple[int, dict]:
    request = urllib.request.Request(
        url, data=json.dumps(payload).encode(), headers={"Content-Type": "application/json"}
    )
    try:
        with urllib.request.urlopen(request, timeout=_REQUEST_TIMEOUT_S) as response:
            return response.status, _json(response.read())
    except urllib.error.HTTPError as error:
        return error.code, _json(error.read())


def _json(body: bytes) -> dict:
    try:
        answer = json.loads(body)
    except ValueError:
        return {"error": body.decode(errors="replace")[:300]}
    return answer if isinstance(answer, dict) else {}
