"""KServe's Python model server (V1 protocol) serving one exported SavedModel.

    python tests/bench/kserve_server.py --model vision=DIR --model text=DIR --port 8080

The peer of `python -m serving` in benchmark 9: the same SavedModel, the same
request body on `POST /v1/models/<name>:predict`, the same work per request
(base64 decoding, one signature call, outputs to JSON). It runs in the
benchmark's own venv (tests/bench/kserve-requirements.txt), so it imports
nothing from the project.
"""

from __future__ import annotations

import argparse
import base64

import kserve
import tensorflow as tf


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

    def predict(self, payload: dict, headers: dict | None = None) -> dict:
        values = [
            base64.b64decode(i["b64"]) if isinstance(i, dict) else i for i in payload["instances"]
        ]
        outputs = self.signature(**{self.input_name: tf.constant(values)})
        columns = {name: value.numpy().tolist() for name, value in outputs.items()}
        count = len(values)
        return {
            "predictions": [
                {name: _plain(column[i]) for name, column in columns.items()} for i in range(count)
            ]
        }


def _plain(value: object) -> object:
    if isinstance(value, bytes):
        return value.decode("utf-8", "replace")
    if isinstance(value, list):
        return [_plain(v) for v in value]
    return value


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--model", action="append", required=True, metavar="NAME=DIR")
    parser.add_argument("--port", type=int, required=True)
    args = parser.parse_args()
    models = [SavedModelPredictor(*spec.split("=", 1)) for spec in args.model]
    kserve.ModelServer(http_port=args.port, enable_grpc=False, workers=1).start(models)


if __name__ == "__main__":
    main()
