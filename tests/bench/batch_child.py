"""One measured run of benchmark 10 in its own process, so that its peak RSS is its own:

    python -m tests.bench.batch_child batch REGISTRY SOURCE OUT BATCH_SIZE
    python -m tests.bench.batch_child naive REGISTRY SOURCE COUNT

Prints one JSON line: instances, seconds (the work, after the model is loaded) and
peak_rss (bytes, getrusage: the process's high-water mark).
"""

from __future__ import annotations

import json
import os
import resource
import sys
import time

os.environ.setdefault("TF_USE_LEGACY_KERAS", "1")
os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "3")


def batch(registry: str, source: str, out: str, batch_size: str) -> dict:
    from serving.server.loaded_model import LoadedModel
    from trainer.batch_prediction.predict import batch_predict
    from trainer.batch_prediction.sources import resolve_source

    model = LoadedModel("text", 1, f"{registry}/text/versions/1")
    model.warm_up()
    started = time.perf_counter()
    summary = batch_predict(model, resolve_source(source), out, int(batch_size))
    return {"instances": summary.results, "seconds": time.perf_counter() - started}


def naive(registry: str, source: str, count: str) -> dict:
    """What a user writes first: the SavedModel called on each line, one instance at a time."""
    import tensorflow as tf

    serve = tf.saved_model.load(f"{registry}/text/versions/1").signatures["serving_default"]
    serve(text=tf.constant(["warm up"]))
    started, done = time.perf_counter(), 0
    with open(source) as lines, open(os.devnull, "w") as out:
        for line in lines:
            outputs = serve(text=tf.constant([json.loads(line)["text"]]))
            prediction = {k: v.numpy()[0] for k, v in outputs.items()}
            out.write(json.dumps({"prediction": prediction}, default=_plain) + "\n")
            done += 1
            if done == int(count):
                break
    return {"instances": done, "seconds": time.perf_counter() - started}


def _plain(value: object) -> object:
    return value.decode() if isinstance(value, bytes) else value.tolist()


if __name__ == "__main__":
    kind, *args = sys.argv[1:]
    result = {"batch": batch, "naive": naive}[kind](*args)
    result["peak_rss"] = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss * 1024
    print(json.dumps(result))
