"""KServe's Python model server (V1 protocol) serving one exported SavedModel.

    python tests/bench/kserve_server.py --model vision=DIR --model text=DIR --port 8080 \
        --workers 2

The peer of `python -m serving` in benchmark 9: the same SavedModel, the same
request body on `POST /v1/models/<name>:predict`, the same work per request
(base64 decoding, one signature call, outputs to JSON). Configured for throughput
as KServe's docs recommend for CPU-bound models: an `async` predict that runs the
model call in the event loop's thread pool (so requests are not serialised on the
event loop), and as many uvicorn workers as the project's server gets. It runs in
the benchmark's own venv (tests/bench/kserve-requirements.txt), so it imports
nothing from the project.
"""

from __future__ import annotations

import argparse
import asyncio
import base64

import kserve
import tensorflow as tf
from peer_outputs import per_instance  # tests/bench, this script's directory


class SavedModelPredictor(kserve.Model):
    def __init__(self, name: str, model_dir: str) -> None:
        super().__init__(name)
        self.model_dir = model_dir
        self.load()

    def load(self) -> bool:
        self.signature = tf.saved_model.load(self.model_dir).signatures["serving_default"]
        _, inputs = self.signature.structured_input_signature
        [(self.input_name, _)] = inputs.items()
        self.ready = True
        return True

    def __getstate__(self) -> dict:
        """KServe pickles the models to each of its --workers: each loads its own copy."""
        state = dict(self.__dict__)
        state.pop("signature", None)
        return state

    def __setstate__(self, state: dict) -> None:
        self.__dict__.update(state)
        self.load()

    async def predict(self, payload: dict, headers: dict | None = None) -> dict:
        return await asyncio.get_running_loop().run_in_executor(None, self._predict, payload)

    def _predict(self, payload: dict) -> dict:
        values = [
            base64.b64decode(i["b64"]) if isinstance(i, dict) else i for i in payload["instances"]
        ]
        outputs = self.signature(**{self.input_name: tf.constant(values)})
        return {"predictions": per_instance(outputs, len(values))}


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--model", action="append", required=True, metavar="NAME=DIR")
    parser.add_argument("--port", type=int, required=True)
    parser.add_argument("--workers", type=int, default=1)
    args = parser.parse_args()
    models = [SavedModelPredictor(*spec.split("=", 1)) for spec in args.model]
    kserve.ModelServer(http_port=args.port, enable_grpc=False, workers=args.workers).start(models)


if __name__ == "__main__":
    main()
