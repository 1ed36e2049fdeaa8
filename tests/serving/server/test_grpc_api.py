"""TF Serving's gRPC PredictionService on 127.0.0.1: answers and refusals as the REST routes give.

The client is TF Serving's own generated PredictionServiceStub over a real
grpc channel; the server serves the real scaler SavedModels of
tests/serving/conftest.py (version v answers v x the row sum; champion is 2),
loaded once for the module, with its REST routes running beside it.
"""

import logging

import grpc
import numpy as np
import pytest
import tensorflow as tf
from tensorflow_serving.apis import (
    get_model_metadata_pb2,
    predict_pb2,
    prediction_service_pb2_grpc,
)

from serving.contracts.errors import InputError
from serving.registry.local_registry import LocalModelRegistry
from serving.server.grpc_api import start_grpc_server
from tests.serving.conftest import call, running_server, scaler_server, wait_ready

ROW = [1.0, 2.0, 3.0]  # version v answers forecast [6 v]
INVALID = grpc.StatusCode.INVALID_ARGUMENT


@pytest.fixture(scope="module")
def served(tmp_path_factory, scaler_exports):
    """(REST base URL, stub, ModelServer): 'scaler' versions 1 and 2, loaded once."""
    registry = LocalModelRegistry(tmp_path_factory.mktemp("grpc") / "registry")
    for export in scaler_exports[:2]:
        registry.register("scaler", export)
    server = scaler_server(registry, traffic=(("champion", 50), ("1", 50)))
    with running_server(server) as base:
        wait_ready(base)
        grpc_server, port = start_grpc_server(server, "127.0.0.1", 0)
        channel = grpc.insecure_channel(f"127.0.0.1:{port}")
        try:
            yield base, prediction_service_pb2_grpc.PredictionServiceStub(channel), server
        finally:
            channel.close()
            grpc_server.stop(grace=None)


def request(rows, name="scaler", version=None, label="", **options) -> predict_pb2.PredictRequest:
    inputs = options.pop("inputs", None) or {
        "window": tf.make_tensor_proto(np.asarray(rows, dtype=options.pop("dtype", np.float32)))
    }
    signature = options.pop("signature_name", "")
    message = predict_pb2.PredictRequest(inputs=inputs, **options)
    message.model_spec.name = name
    message.model_spec.signature_name = signature
    if version is not None:
        message.model_spec.version.value = version
    if label:
        message.model_spec.version_label = label
    return message


def outputs(response) -> dict:
    return {name: tf.make_ndarray(proto).tolist() for name, proto in response.outputs.items()}


def refusal(stub, message) -> grpc.RpcError:
    with pytest.raises(grpc.RpcError) as caught:
        stub.Predict(message, timeout=30)
    return caught.value


def test_predict_by_name_version_and_label_fills_the_model_spec(served):
    _, stub, _ = served
    by_name = stub.Predict(request([ROW]), timeout=30)  # the traffic split chooses (50/50)
    spec = by_name.model_spec
    assert (spec.name, spec.signature_name) == ("scaler", "serving_default")
    total = 6.0 * spec.version.value
    assert outputs(by_name) == {"forecast": [[total]], "total": [total]}
    by_version = stub.Predict(
        request([ROW], version=1, signature_name="serving_default"), timeout=30
    )
    assert (outputs(by_version)["total"], by_version.model_spec.version.value) == ([6.0], 1)
    by_label = stub.Predict(request([ROW], label="champion"), timeout=30)
    assert (outputs(by_label)["total"], by_label.model_spec.version.value) == ([12.0], 2)


def test_a_batch_of_two_and_the_output_filter(served):
    _, stub, _ = served
    rows = [ROW, [0.0, 0.0, 1.0]]
    assert outputs(stub.Predict(request(rows, label="champion"), timeout=30)) == {
        "forecast": [[12.0], [2.0]],
        "total": [12.0, 2.0],
    }
    filtered = stub.Predict(request(rows, label="champion", output_filter=["total"]), timeout=30)
    assert outputs(filtered) == {"total": [12.0, 2.0]}
    error = refusal(stub, request(rows, output_filter=["mean"]))
    assert error.code() == INVALID and "'mean'" in error.details()


def test_metadata_is_the_signature_def_map(served):
    _, stub, _ = served
    message = get_model_metadata_pb2.GetModelMetadataRequest(metadata_field=["signature_def"])
    message.model_spec.name, message.model_spec.version.value = "scaler", 1
    response = stub.GetModelMetadata(message, timeout=30)
    assert (response.model_spec.name, response.model_spec.version.value) == ("scaler", 1)
    signatures = get_model_metadata_pb2.SignatureDefMap()
    assert response.metadata["signature_def"].Unpack(signatures)
    signature = signatures.signature_def["serving_default"]
    window = signature.inputs["window"]
    assert (window.dtype, [d.size for d in window.tensor_shape.dim]) == (tf.float32, [-1, 3])
    assert sorted(signature.outputs) == ["forecast", "total"]
    assert signature.method_name == "tensorflow/serving/predict"
    message.metadata_field[:] = ["signature_def", "status"]
    with pytest.raises(grpc.RpcError) as caught:
        stub.GetModelMetadata(message, timeout=30)
    assert caught.value.code() == INVALID and "metadata_field" in caught.value.details()


@pytest.mark.parametrize(
    ("options", "code", "words"),
    [
        ({"name": "nope"}, grpc.StatusCode.NOT_FOUND, "'nope' is not served here"),
        ({"version": 7}, grpc.StatusCode.NOT_FOUND, "Version 7 of 'scaler' is not loaded"),
        ({"label": "gold"}, grpc.StatusCode.NOT_FOUND, "no label 'gold'"),
        ({"signature_name": "classify"}, INVALID, "no signature 'classify'"),
        ({"name": ""}, INVALID, "model_spec.name is empty"),
    ],
)
def test_unknown_models_versions_labels_and_signatures_are_refused(served, options, code, words):
    error = refusal(served[1], request([ROW], **options))
    assert error.code() == code and words in error.details()


def test_wrong_input_name_shape_and_dtype_are_invalid_arguments(served):
    _, stub, _ = served
    renamed = {"series": tf.make_tensor_proto(np.asarray([ROW], dtype=np.float32))}
    error = refusal(stub, request(None, inputs=renamed))
    assert error.code() == INVALID and "['series']" in error.details()
    assert "window: float32 [N, 3]" in error.details()
    error = refusal(stub, request([[1.0, 2.0, 3.0, 4.0]]))
    assert error.code() == INVALID
    assert "instances of [4]; this model takes [3] per instance" in error.details()
    error = refusal(stub, request(ROW))  # no batch dimension
    assert error.code() == INVALID and "shape [3]" in error.details()
    error = refusal(stub, request([ROW], dtype=np.float64))
    assert error.code() == INVALID and "is DT_DOUBLE; this model takes DT_FLOAT" in error.details()
    error = refusal(stub, request(np.zeros((0, 3))))
    assert error.code() == INVALID and "No instances" in error.details()


def test_requests_beyond_the_limits_are_refused_before_any_model_call(served):
    _, stub, server = served
    many = refusal(stub, request(np.ones((server.limits.max_instances + 1, 3))))
    assert many.code() == INVALID and "--max-instances" in many.details()
    # One value declared as 10^8 rows: tf.make_ndarray would repeat it into 1.2 GB.
    broadcast = tf.make_tensor_proto([1.0], dtype=tf.float32)
    broadcast.tensor_shape.Clear()
    broadcast.tensor_shape.dim.add(size=10**8)
    broadcast.tensor_shape.dim.add(size=3)
    huge = refusal(stub, request(None, inputs={"window": broadcast}))
    assert huge.code() == INVALID and "1200000000 bytes" in huge.details()


def test_a_nan_fails_in_the_model_and_the_server_answers_the_next_request(served):
    _, stub, _ = served
    error = refusal(stub, request([[1.0, float("nan"), 3.0]], label="champion"))
    assert error.code() == INVALID
    assert "scaler version 2 could not use the instances" in error.details()
    assert "\n" not in error.details()
    assert outputs(stub.Predict(request([ROW], label="champion"), timeout=30))["total"] == [12.0]


def test_an_unexpected_failure_is_internal_and_logged(served, monkeypatch, caplog):
    """The batcher is replaced for one call (no real model fails this way); all else is real."""
    _, stub, server = served
    batcher = server.version_for("scaler", "1").batcher

    def broken(batch, deadline=None):
        raise RuntimeError("disk on fire\nsecond line")

    monkeypatch.setattr(batcher, "predict", broken)
    with caplog.at_level(logging.ERROR, logger="serving.server.grpc_api"):
        error = refusal(stub, request([ROW], version=1))
    assert error.code() == grpc.StatusCode.INTERNAL
    assert error.details() == "Internal error: RuntimeError: disk on fire"
    assert any(record.exc_info for record in caplog.records)
    monkeypatch.undo()
    assert outputs(stub.Predict(request([ROW], version=1), timeout=30))["total"] == [6.0]


def test_rest_and_grpc_give_the_same_answers(served):
    base, stub, _ = served
    rows = [ROW, [0.5, -1.0, 2.25], [0.0, 0.0, 0.0]]
    for version in (1, 2):
        status, body = call(base, f"/v1/models/scaler/versions/{version}:predict", {"inputs": rows})
        assert status == 200
        assert outputs(stub.Predict(request(rows, version=version), timeout=30)) == body["outputs"]
    status, body = call(base, "/v1/models/scaler/versions/1:predict", {"instances": [[1, 2]]})
    error = refusal(stub, request([[1.0, 2.0]], version=1))
    assert (status, error.code()) == (400, INVALID)
    assert "[3] per instance" in body["error"] and "[3] per instance" in error.details()


def test_a_draining_server_is_unavailable_and_a_busy_port_is_a_clear_error(registry):
    """Without reuse_port a second gRPC server cannot share the port (with it, both would bind)."""
    server = scaler_server(registry)  # never started: nothing is loaded
    grpc_server, port = start_grpc_server(server, "127.0.0.1", 0)
    try:
        busy = rf"cannot listen for gRPC on 127.0.0.1:{port}: Address already in use"
        with pytest.raises(InputError, match=busy + r".*: pass another --grpc-port, or 0 to turn"):
            start_grpc_server(server, "127.0.0.1", port)
        server.admission.begin_drain()
        with grpc.insecure_channel(f"127.0.0.1:{port}") as channel:
            stub = prediction_service_pb2_grpc.PredictionServiceStub(channel)
            error = refusal(stub, request([ROW]))
        assert error.code() == grpc.StatusCode.UNAVAILABLE and "shutting down" in error.details()
    finally:
        grpc_server.stop(grace=None)
        server.stop()
