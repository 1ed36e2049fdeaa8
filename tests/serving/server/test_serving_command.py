"""`python -m serving` as users run it: the trained vision and text models, from the registry
or from Cloud Storage (the storage emulator) as a Vertex AI container gets them.

The server is a separate process on a free 127.0.0.1 port; requests go over
HTTP exactly as the README's curl examples send them.
"""

from __future__ import annotations

import base64
import signal
import socket
import struct
import zlib
from pathlib import Path

import pytest

from pipelines.local.gcs_emulator import upload_directory
from serving.__main__ import main as serving_main
from serving.__main__ import parser
from serving.registry.local_registry import LocalModelRegistry
from tests.serving.conftest import call, serving_process, wait_ready
from trainer.launch import free_ports


@pytest.fixture(scope="module")
def registry(trained_model, trained_text_model, tmp_path_factory) -> LocalModelRegistry:
    registry = LocalModelRegistry(tmp_path_factory.mktemp("served") / "registry")
    registry.register("vision", trained_model[0])
    registry.register("text", trained_text_model)
    return registry


def _digit_png(digits_dir: Path) -> bytes:
    return sorted((digits_dir / "digit_3").glob("*.png"))[0].read_bytes()


def _b64(data: bytes) -> dict:
    return {"b64": base64.b64encode(data).decode()}


def _png_declaring(width: int, height: int) -> bytes:
    """A small PNG whose header declares width x height pixels (a decompression bomb)."""

    def chunk(kind: bytes, data: bytes) -> bytes:
        crc = zlib.crc32(kind + data).to_bytes(4, "big")
        return len(data).to_bytes(4, "big") + kind + data + crc

    header = struct.pack(">IIBBBBB", width, height, 8, 2, 0, 0, 0)
    pixels = zlib.compress(b"\0" * 65536, 9)  # decodes to far more than it weighs
    return (
        b"\x89PNG\r\n\x1a\n" + chunk(b"IHDR", header) + chunk(b"IDAT", pixels) + chunk(b"IEND", b"")
    )


def _grpc_text_labels(port: int, texts: list[str]) -> list[str]:
    import grpc
    import tensorflow as tf
    from tensorflow_serving.apis import predict_pb2, prediction_service_pb2_grpc

    request = predict_pb2.PredictRequest()
    request.model_spec.name = "text"
    request.inputs["text"].CopyFrom(tf.make_tensor_proto(texts))
    with grpc.insecure_channel(f"127.0.0.1:{port}") as channel:
        stub = prediction_service_pb2_grpc.PredictionServiceStub(channel)
        response = stub.Predict(request, timeout=30)
    return [label.decode() for label in tf.make_ndarray(response.outputs["label"]).tolist()]


def test_the_registrys_champions_answer_both_request_formats(registry, digits_dir):
    png = _digit_png(digits_dir)
    grpc_port = free_ports(1)[0]
    args = ["--registry", str(registry.root), "--model", "vision", "--model", "text"]
    with serving_process([*args, "--grpc-port", str(grpc_port)]) as (base, process):
        wait_ready(base, timeout_s=120)
        status, body = call(base, "/predict", {"instances": [_b64(png), _b64(png)]})
        assert status == 200, body
        assert body["deployedModelId"] == "vision-1"
        first = body["predictions"][0]
        assert first["label"] in first["class_names"] and len(first["probabilities"]) == 5
        assert body["predictions"][1]["label"] == first["label"]  # the same image, same answer
        named = {"instances": [{"image_bytes": _b64(png)}]}
        again = call(base, "/v1/models/vision/versions/1:predict", named)[1]["predictions"][0]
        assert again["label"] == first["label"]
        assert again["probabilities"] == pytest.approx(first["probabilities"], abs=1e-5)
        status, body = call(base, "/v1/models/text:predict", {"inputs": ["my invoice is wrong"]})
        assert status == 200 and body["outputs"]["label"][0] in body["outputs"]["class_names"][0]
        status, body = call(base, "/predict", {"instances": [_b64(b"not an image at all")]})
        assert status == 400 and "instance 0: the bytes are not a PNG, JPEG" in body["error"]
        bombs = {"instances": [_b64(png), _b64(_png_declaring(23000, 23000))] * 50}
        status, body = call(base, "/predict", bombs)
        assert status == 400 and "instance 1: the image declares more pixels" in body["error"]
        assert call(base, "/predict", {"instances": [_b64(png)]})[0] == 200  # still serving
        status, body = call(base, "/v1/models/text:predict", {"instances": ["my invoice"]})
        assert _grpc_text_labels(grpc_port, ["my invoice"]) == [body["predictions"][0]["label"]]
        process.send_signal(signal.SIGTERM)
        assert process.wait(timeout=30) == 0


def test_a_model_in_cloud_storage_is_served_as_a_vertex_ai_container(trained_model, gcs_emulator):
    """AIP_STORAGE_URI, AIP_PREDICT_ROUTE, AIP_HEALTH_ROUTE and AIP_DEPLOYED_MODEL_ID as
    Vertex AI sets them for a custom container; the model is read from the storage emulator."""
    upload_directory(trained_model[0], "gs://models/vision/7")
    env = {
        "AIP_STORAGE_URI": "gs://models/vision/7",
        "AIP_PREDICT_ROUTE": "/v1/endpoints/123/deployedModels/456:predict",
        "AIP_HEALTH_ROUTE": "/v1/endpoints/123/deployedModels/456",
        "AIP_DEPLOYED_MODEL_ID": "456",
    }
    with serving_process([], env) as (base, _):
        wait_ready(base, timeout_s=120, health=env["AIP_HEALTH_ROUTE"])
        status, body = call(base, env["AIP_PREDICT_ROUTE"], {"instances": [_b64(_png(32))]})
    assert status == 200, body
    assert body["deployedModelId"] == "456" and len(body["predictions"]) == 1


def _png(size: int) -> bytes:
    import numpy as np

    from tests.conftest import png_bytes

    return png_bytes(np.full((size, size, 3), 200))


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (["--registry", "{empty}"], "has no model with a champion: run `make run` first"),
        (["--registry", "{registry}", "--model", "nope"], "has no model 'nope'"),
        (["--registry", "{registry}", "--traffic", "vision=champion:50"], "add up to 50, not 100"),
        (["--registry", "{registry}", "--traffic", "text=champion:100"], "for a served model"),
        (["--model-dir", "{empty}"], "holds no complete exported model: it is incomplete (no meta"),
        (
            ["--registry", "{registry}", "--traffic", "vision=champion:²"],
            "VERSION_OR_ALIAS:PERCENT",
        ),
        (["--model-dir", "{half}"], "holds no complete exported model: it is incomplete (no saved"),
    ],
)
def test_bad_settings_stop_the_server_with_one_line(registry, tmp_path, args, message):
    """In this process: main() refuses before it listens or loads anything."""
    half = tmp_path / "half"  # an export without its graph
    half.mkdir()
    (half / "metadata.json").write_text("{}")
    args = [a.format(empty=tmp_path / "empty", registry=registry.root, half=half) for a in args]
    (tmp_path / "empty").mkdir()
    if "--traffic" in args:
        args += ["--model", "vision"]
    with pytest.raises(SystemExit) as stopped:
        serving_main([*args, "--port", str(free_ports(1)[0])])
    assert str(stopped.value).startswith("python -m serving: error:")
    assert message in str(stopped.value)


def test_a_taken_port_is_named(registry):
    with socket.socket() as busy:
        busy.bind(("127.0.0.1", 0))
        busy.listen()
        port = busy.getsockname()[1]
        with pytest.raises(SystemExit, match=f"cannot listen on 127.0.0.1:{port} .*--port"):
            serving_main(["--registry", str(registry.root), "--port", str(port)])


@pytest.mark.parametrize("port", ["70000", "0", "-1", "http", "²", "١٢٣", "８０８０", "1" * 5000])
def test_a_port_flag_that_is_no_port_is_one_usage_line(port, capsys):
    with pytest.raises(SystemExit) as raised:
        serving_main(["--port", port])
    assert raised.value.code == 2
    assert f"argument --port: {port!r} is not a port number (1-65535)" in capsys.readouterr().err


@pytest.mark.parametrize("value", ["abc", "70000", "80.5", "²", "８０８０"])
def test_an_aip_http_port_that_is_no_port_is_named(value, monkeypatch, tmp_path):
    monkeypatch.setenv("AIP_HTTP_PORT", value)
    with pytest.raises(SystemExit, match=rf"AIP_HTTP_PORT='{value}' is not a port number"):
        serving_main(["--registry", str(tmp_path)])


OUT_OF_RANGE = [  # flag, value; each refused as argparse refuses a bad value: exit 2, one line
    ("--poll-seconds", "inf"),
    ("--poll-seconds", "1e300"),
    ("--poll-seconds", "-1"),
    ("--poll-seconds", "nan"),
    ("--poll-seconds", "0.001"),
    ("--batch-timeout-ms", "inf"),
    ("--batch-timeout-ms", "nan"),
    ("--batch-timeout-ms", "-5"),
    ("--max-batch-size", "0"),
    ("--max-batch-size", "1" * 30),
    ("--max-body-bytes", "0"),
    ("--max-body-bytes", "-1"),
]
NOT_NUMBERS = [
    ("--max-batch-size", "2.5"),
    ("--max-body-bytes", "1e400"),
    ("--max-body-bytes", "²"),
    ("--poll-seconds", "soon"),
]


@pytest.mark.parametrize(("flag", "value"), OUT_OF_RANGE + NOT_NUMBERS)
def test_a_numeric_flag_out_of_its_range_is_one_usage_line(flag, value, capsys):
    """Before anything is read or loaded: `--poll-seconds inf` once killed the watcher."""
    with pytest.raises(SystemExit) as raised:
        serving_main([flag, value])
    err = capsys.readouterr().err
    assert raised.value.code == 2 and "Traceback" not in err
    [line] = [line for line in err.splitlines() if "error:" in line]
    assert line.startswith(f"python -m serving: error: argument {flag}: {flag}="), line
    what = "is out of range" if (flag, value) in OUT_OF_RANGE else "is not a"
    assert what in line and "it must be " in line, line


def test_numeric_flags_inside_their_ranges_are_taken():
    args = parser().parse_args(
        ["--poll-seconds", "0", "--batch-timeout-ms", "2.5", "--max-batch-size", "1",
         "--max-body-bytes", "1024"]
    )  # fmt: skip
    assert (args.poll_seconds, args.batch_timeout_ms) == (0, 2.5)
    assert (args.max_batch_size, args.max_body_bytes) == (1, 1024)
