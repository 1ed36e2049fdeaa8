"""A closed-loop load generator for TF Serving's gRPC Predict, as load_client.py is for REST.

    python -m tests.bench.grpc_load_client 127.0.0.1:8500 MODEL INPUT VALUE_FILE \\
        --clients 8 --seconds 10 --out OUT.json

Each of `--clients` threads has its own channel (one HTTP/2 connection, as each REST
client has its own keep-alive connection) and sends the same one-instance string
tensor (the bytes of VALUE_FILE: a PNG, or UTF-8 text) again as soon as the previous
answer arrives. OUT has the same fields as load_client.py's.
"""

from __future__ import annotations

import argparse
import contextlib
import json
from collections.abc import Callable, Iterator
from pathlib import Path

import grpc
from tensorflow.core.framework import tensor_pb2, tensor_shape_pb2, types_pb2
from tensorflow_serving.apis import predict_pb2, prediction_service_pb2_grpc

from tests.bench.load_client import closed_loop


def predict_request(model: str, input_name: str, value: bytes) -> predict_pb2.PredictRequest:
    request = predict_pb2.PredictRequest()
    request.model_spec.name = model
    tensor = tensor_pb2.TensorProto(
        dtype=types_pb2.DT_STRING,
        tensor_shape=tensor_shape_pb2.TensorShapeProto(
            dim=[tensor_shape_pb2.TensorShapeProto.Dim(size=1)]
        ),
        string_val=[value],
    )
    request.inputs[input_name].CopyFrom(tensor)
    return request


def load(
    target: str, request: predict_pb2.PredictRequest, clients: int, seconds: float, warm_up_s: float
) -> dict:
    """Send `request` from `clients` channels."""

    @contextlib.contextmanager
    def connect() -> Iterator[Callable[[], bool]]:
        with grpc.insecure_channel(target) as channel:
            stub = prediction_service_pb2_grpc.PredictionServiceStub(channel)

            def send() -> bool:
                try:
                    stub.Predict(request, timeout=60)
                    return True
                except grpc.RpcError:
                    return False

            yield send

    return closed_loop(clients, seconds, warm_up_s, connect)


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("target", help="host:port")
    parser.add_argument("model")
    parser.add_argument("input")
    parser.add_argument("value", type=Path)
    parser.add_argument("--clients", type=int, required=True)
    parser.add_argument("--seconds", type=float, required=True)
    parser.add_argument("--warm-up", type=float, default=1.0)
    parser.add_argument("--out", type=Path, required=True)
    args = parser.parse_args()
    request = predict_request(args.model, args.input, args.value.read_bytes())
    result = load(args.target, request, args.clients, args.seconds, args.warm_up)
    args.out.write_text(json.dumps(result))


if __name__ == "__main__":
    main()
