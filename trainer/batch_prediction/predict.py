"""The batch prediction job: instances streamed through a SavedModel in batches, written in
Vertex AI's output layout.

Each instance is read, then checked alone with the online server's rules; the
good ones are predicted `batch_size` at a time with the same `serving_default`
call, and each answer is the prediction the server returns for that instance
(`request_format.predictions`). A batch the model refuses (one image that does
not decode, a value it rejects) is predicted again one instance at a time, as
the server's batcher does, so only the bad instance becomes an error. Bad rows
never stop the job; a source that names nothing, or that holds no instance, does.
Model calls run on their own thread, so reading and checking overlap them.
"""

from __future__ import annotations

import datetime as dt
import logging
import time
from collections import deque
from collections.abc import Iterable
from concurrent.futures import Future, ThreadPoolExecutor
from dataclasses import dataclass

import numpy as np
import tensorflow as tf

from serving.contracts.errors import InputError
from serving.server.loaded_model import LoadedModel
from serving.server.request_format import predictions
from trainer.batch_prediction.instances import checked_batch
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
from trainer.batch_prediction.sources import BIGQUERY_PREFIX, BatchSource
from trainer.batch_prediction.table_output import TableOutput, dataset_name
from trainer.batch_prediction.writer import SHARD_LINES, ShardedOutput

log = logging.getLogger(__name__)

PROGRESS_EVERY = 100_000  # instances between progress lines
IN_FLIGHT = 2  # batches handed to the model ahead of the writes (memory: a few batches)


@dataclass(frozen=True)
class BatchSummary:
    output_uri: str  # the job's output folder
    results: int
    errors: int
    seconds: float

    def describe(self) -> str:
        return (
            f"{self.results} predictions, {self.errors} errors in {self.seconds:.1f} s "
            f"-> {self.output_uri}"
        )


def batch_predict(
    model: LoadedModel,
    source: BatchSource,
    output_uri: str,
    batch_size: int = 64,
    local_database: str = "",
    shard_lines: int = SHARD_LINES,
) -> BatchSummary:
    """Predict every instance of `source` with `model` into a new folder under `output_uri`
    (or, for `bq://project`, a new dataset of the DuckDB file `local_database`)."""
    started, created = time.perf_counter(), dt.datetime.now(dt.UTC)
    rows = read_rows(source, model.input.name, local_database)
    if output_uri.startswith(BIGQUERY_PREFIX):
        output = TableOutput(output_uri, local_database, dataset_name(model.model_name, created))
    else:
        output = ShardedOutput(output_uri, job_directory(model.model_name, created), shard_lines)
    try:
        _predict_rows(model, rows, output, batch_size)
        if not output.counts[RESULTS] and not output.counts[ERRORS]:
            raise InputError(
                f"Batch prediction source {source.uri or source.query!r} holds no instances: "
                "give a file or query with at least one."
            )
        uri = output.commit()  # a commit that fails half-way is undone by abort()
    except BaseException:
        output.abort()
        raise
    summary = BatchSummary(
        uri, output.counts[RESULTS], output.counts[ERRORS], time.perf_counter() - started
    )
    log.info("Batch prediction of %s: %s", model.label, summary.describe())
    return summary


def _predict_rows(
    model: LoadedModel, rows: Iterable[Row], output: ShardedOutput | TableOutput, batch_size: int
) -> None:
    """Read and check the next batch while the model computes the last (TensorFlow releases
    the GIL): model calls run on one thread, at most IN_FLIGHT batches ahead of the writes."""
    pending: list[object] = []
    in_flight: deque[tuple[list, Future]] = deque()
    with ThreadPoolExecutor(1, thread_name_prefix="batch-model") as pool:

        def submit(instances: list[object]) -> None:
            good, batch, bad = checked_batch(model, instances)
            for instance, problem in bad:
                output.write(ERRORS, error_line(instance, INVALID_ARGUMENT, str(problem)))
            if good:
                rows = [batch[i : i + 1] for i in range(len(batch))]  # each a batch of one
                in_flight.append(
                    (list(zip(good, rows, strict=True)), pool.submit(_call, model, batch))
                )
            if len(in_flight) > IN_FLIGHT:
                _write(model, *in_flight.popleft(), output)

        for number, row in enumerate(rows, 1):
            if number % PROGRESS_EVERY == 0:
                log.info("%d instances read", number)
            if row.error:
                output.write(ERRORS, error_line(row.instance, INVALID_ARGUMENT, row.error))
                continue
            pending.append(row.instance)
            if len(pending) >= batch_size:
                submit(pending)
                pending = []
        if pending:
            submit(pending)
        while in_flight:
            _write(model, *in_flight.popleft(), output)


def _call(model: LoadedModel, batch: np.ndarray) -> dict | Exception:
    """The model's outputs for `batch` in one call, or why it refused it."""
    try:
        outputs = model.predict(batch)
        if any(len(value) != len(batch) for value in outputs.values()):
            raise ValueError("the model did not answer one row per instance")
    except (tf.errors.InvalidArgumentError, ValueError) as exc:
        return exc
    return outputs


def _write(
    model: LoadedModel,
    pending: list[tuple[object, np.ndarray]],
    future: Future,
    output: ShardedOutput | TableOutput,
) -> None:
    """The batch's predictions; when the model refused the batch, each instance alone."""
    outputs = future.result()
    if not isinstance(outputs, Exception):
        for (instance, _), prediction in zip(pending, predictions(outputs), strict=True):
            output.write(RESULTS, result_line(instance, prediction))
    elif len(pending) > 1:
        for one in pending:
            alone: Future = Future()
            alone.set_result(_call(model, one[1]))
            _write(model, [one], alone, output)
    else:
        reason = _reason(getattr(outputs, "message", str(outputs)))
        message = f"{model.label} could not use the instance ({model.input.describe()}): "
        output.write(ERRORS, error_line(pending[0][0], INTERNAL, message + reason))


def _reason(message: str) -> str:
    """TensorFlow's own words: its last unindented line (after the graph's stack frames)."""
    lines = [
        line
        for line in message.strip().splitlines()
        if line.strip()
        and not line[0].isspace()
        and not line.startswith(("Graph execution", "Detected at"))
    ]
    return (lines[-1] if lines else message.strip())[:300]
