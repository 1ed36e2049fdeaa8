"""Vertex AI / TF Serving request parsing and response shapes, checked against an input spec."""

import base64

import numpy as np
import pytest
import tensorflow as tf

from serving.server.loaded_model import InputSpec
from serving.server.request_format import (
    RequestError,
    columns,
    parse_json,
    parse_predict,
    predictions,
)

IMAGES = InputSpec("image_bytes", tf.string, (None,))
WINDOWS = InputSpec("window", tf.float32, (None, 3))
SEQUENCES = InputSpec("steps", tf.float32, (None, None, None))  # open dimensions
PNG = b"\x89PNG\r\n\x1a\n-not-really"


def test_binary_instances_are_base64_decoded_bare_or_named():
    b64 = {"b64": base64.b64encode(PNG).decode()}
    request = parse_predict({"instances": [b64, {"image_bytes": b64}]}, IMAGES, False)
    assert request.batch.tolist() == [PNG, PNG] and not request.columnar


def test_text_instances_become_utf8_bytes():
    request = parse_predict({"instances": ["héllo", {"image_bytes": "x"}]}, IMAGES, False)
    assert request.batch.tolist() == ["héllo".encode(), b"x"]


def test_columnar_inputs_are_accepted_where_allowed():
    request = parse_predict({"inputs": {"window": [[1, 2, 3], [4, 5, 6]]}}, WINDOWS, True)
    assert request.columnar and request.batch.shape == (2, 3)
    assert request.batch.dtype == np.float32
    assert parse_predict({"inputs": [[1, 2, 3]]}, WINDOWS, True).batch.tolist() == [[1, 2, 3]]
    with pytest.raises(RequestError, match="has no 'instances'"):
        parse_predict({"inputs": [[1, 2, 3]]}, WINDOWS, False)  # the Vertex AI route


def test_null_values_in_a_window_become_nan_for_the_model_to_fill():
    batch = parse_predict({"instances": [[1, None, 3]]}, WINDOWS, False).batch
    assert np.isnan(batch[0, 1]) and batch[0, 2] == 3


@pytest.mark.parametrize(
    ("body", "spec", "status", "message"),
    [
        ({"instances": [{"b64": "%%%"}]}, IMAGES, 400, "instance 0: 'b64' is not valid base64"),
        ({"instances": ["ok", 7]}, IMAGES, 400, "instance 1: expected a string or"),
        ({"instances": [[1, 2, 3], [1, 2]]}, WINDOWS, 400, r"instance 1: shape \[2\] does not fit"),
        ({"instances": [[1, 2, 3], [[1, 2, 3]]]}, WINDOWS, 400, r"instance 1: shape \[1, 3\]"),
        ({"instances": [["a", "b", "c"]]}, WINDOWS, 400, r"instance 0: expected numbers .*got str"),
        ({"instances": [["1", "2", "3"]]}, WINDOWS, 400, "got str"),  # not converted silently
        ({"instances": [[True, 1, 2]]}, WINDOWS, 400, "got bool"),
        ({"instances": [[1e39, 1, 2]]}, WINDOWS, 400, "got a value beyond the range of float32"),
        ({"instances": [[10**400, 1, 2]]}, WINDOWS, 400, "beyond the range of float32"),
        ({"instances": [[[1, 2], [3]]]}, SEQUENCES, 400, "got a ragged list"),
        ({"instances": [[[1, 2]], [[1, 2, 3]]]}, SEQUENCES, 400, r"different shapes \(\[1, 2\]"),
        ({"instances": [{"windows": [1, 2, 3]}]}, WINDOWS, 400, r"has keys \['windows'\]"),
        ({"instances": []}, WINDOWS, 400, "No instances to predict"),
        ({"instances": {"window": [1, 2, 3]}}, WINDOWS, 400, "'instances' must be a list"),
        ({"instances": [], "inputs": []}, WINDOWS, 400, "both 'instances' and 'inputs'"),
        ({"signature_name": "x"}, WINDOWS, 400, r"has no 'instances' or 'inputs' \(columnar\)"),
    ],
)
def test_bad_requests_name_the_instance_and_what_was_expected(body, spec, status, message):
    with pytest.raises(RequestError, match=message) as raised:
        parse_predict(body, spec, True)
    assert raised.value.status == status


@pytest.mark.parametrize(
    ("body", "message"),
    [(b"{oops", "not valid JSON"), (b"\xff\xfe", "not valid JSON"), (b"[1, 2]", "got list")],
)
def test_a_body_that_is_not_a_json_object_is_refused(body, message):
    with pytest.raises(RequestError, match=message):
        parse_json(body)


def test_responses_have_one_prediction_per_instance_or_one_column_per_output():
    outputs = {
        "label": np.array([b"cat", b"\xff"], dtype=object),
        "probabilities": np.array([[0.9, 0.1], [0.2, np.nan]], dtype=np.float32),
    }
    rows = predictions(outputs)
    assert rows[0]["label"] == "cat"
    assert rows[1]["label"] == {"b64": "/w=="}  # not UTF-8: sent as base64
    assert rows[1]["probabilities"][0] == pytest.approx(0.2) and rows[1]["probabilities"][1] is None
    assert columns(outputs)["label"] == ["cat", {"b64": "/w=="}]
    assert predictions({"forecast": np.array([[1.0], [2.0]])}) == [[1.0], [2.0]]
    assert columns({"forecast": np.array([[1.0], [2.0]])}) == [[1.0], [2.0]]
