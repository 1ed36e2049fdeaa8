"""BentoML serving the two exported SavedModels with its adaptive batching: benchmark 9's
second peer.

    BENCH_VISION_DIR=... BENCH_TEXT_DIR=... BENCH_WORKERS=2 \\
        bentoml serve bentoml_service:SavedModels --host 127.0.0.1 --port 3000

Configured as BentoML's docs recommend for throughput: batchable APIs (the
dispatcher groups the requests that arrive together, up to 32 instances, within a
latency budget) and one worker per core as the project's server gets. The same
request bodies (`{"instances": [...]}`) go to POST /vision and /text; the work per
request is the same as the project's (base64 decoding, one signature call, outputs
to JSON). It runs in its own venv (tests/bench/bentoml-requirements.txt), so it
imports nothing from the project.
"""

from __future__ import annotations

import base64
import os

import bentoml
from peer_outputs import per_instance  # tests/bench, the --working-dir

WORKERS = int(os.environ.get("BENCH_WORKERS", "1"))
BATCH = {"batchable": True, "max_batch_size": 32, "max_latency_ms": 1000}


@bentoml.service(workers=WORKERS, traffic={"timeout": 60})
class SavedModels:
    def __init__(self) -> None:
        import tensorflow as tf

        self.tf = tf
        self.signatures = {
            name: tf.saved_model.load(os.environ[variable]).signatures["serving_default"]
            for name, variable in (("vision", "BENCH_VISION_DIR"), ("text", "BENCH_TEXT_DIR"))
        }

    @bentoml.api(**BATCH)
    def vision(self, instances: list[dict]) -> list[dict]:
        return self._predict("vision", [base64.b64decode(i["b64"]) for i in instances])

    @bentoml.api(**BATCH)
    def text(self, instances: list[str]) -> list[dict]:
        return self._predict("text", instances)

    def _predict(self, name: str, values: list) -> list[dict]:
        signature = self.signatures[name]
        _, inputs = signature.structured_input_signature
        [input_name] = inputs
        outputs = signature(**{input_name: self.tf.constant(values)})
        return per_instance(outputs, len(values))
