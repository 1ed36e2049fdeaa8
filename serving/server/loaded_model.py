"""One exported model version in memory: its serving signature, called on NumPy batches.

Every model this project exports has a `serving_default` signature with one
input (`image_bytes`, `text` or `window`) and named outputs; the input's
dtype and shape, read from the signature, are what requests are checked
against. `warm_up` runs one prediction built from the signature (and, for
images, the metadata's image size), so the first request does not pay for
tracing and kernel set-up.
"""

from __future__ import annotations

import io
import logging
import time
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import tensorflow as tf
from PIL import Image
from tensorflow.core.framework import types_pb2

from serving.contracts.model_metadata import read_model_metadata

log = logging.getLogger(__name__)

SIGNATURE = "serving_default"


@dataclass(frozen=True)
class InputSpec:
    """The signature's single input: name, dtype and shape (None: any size; first is the batch)."""

    name: str
    dtype: tf.DType
    shape: tuple[int | None, ...]

    @property
    def is_string(self) -> bool:
        return self.dtype == tf.string

    def describe(self) -> str:
        dims = ", ".join("N" if i == 0 else str(d) for i, d in enumerate(self.shape))
        return f"{self.name}: {self.dtype.name} [{dims}]"


class LoadedModel:
    """A SavedModel version loaded for serving."""

    def __init__(self, model_name: str, version: int, path: str | Path) -> None:
        self.model_name, self.version, self.path = model_name, version, Path(path)
        self.metadata = read_model_metadata(path)
        started = time.perf_counter()
        self._saved = tf.saved_model.load(str(path))
        if SIGNATURE not in self._saved.signatures:
            raise ValueError(
                f"{path} has no {SIGNATURE} signature (it has {list(self._saved.signatures)})."
            )
        self._signature = self._saved.signatures[SIGNATURE]
        _, inputs = self._signature.structured_input_signature
        if len(inputs) != 1:
            raise ValueError(f"{path}: the server takes one input per model, found {list(inputs)}.")
        ((name, spec),) = inputs.items()
        self.input = InputSpec(name, spec.dtype, tuple(spec.shape.as_list()))
        self.outputs = sorted(self._signature.structured_outputs)
        log.info(
            "Loaded %s version %d from %s in %.1f s (%s)",
            model_name,
            version,
            path,
            time.perf_counter() - started,
            self.input.describe(),
        )

    @property
    def label(self) -> str:
        return f"{self.model_name} version {self.version}"

    def predict(self, batch: np.ndarray) -> dict[str, np.ndarray]:
        """The signature's outputs for `batch` (first axis: instances)."""
        outputs = self._signature(**{self.input.name: tf.constant(batch, dtype=self.input.dtype)})
        return {name: value.numpy() for name, value in outputs.items()}

    def warm_up(self) -> None:
        """One prediction on an input made from the signature, so the first request is fast."""
        started = time.perf_counter()
        self.predict(self.warm_up_batch())
        log.info("Warmed up %s in %.2f s", self.label, time.perf_counter() - started)

    def warm_up_batch(self) -> np.ndarray:
        if self.input.is_string:
            size = self.metadata.get("input", {}).get("image_size")
            if size:  # encoded image bytes: a grey PNG of the model's size
                buffer = io.BytesIO()
                Image.new("RGB", (size, size), (128, 128, 128)).save(buffer, format="PNG")
                return np.array([buffer.getvalue()], dtype=object)
            return np.array([b"warm-up"], dtype=object)
        shape = [1] + [d or 1 for d in self.input.shape[1:]]
        return np.zeros(shape, dtype=self.input.dtype.as_numpy_dtype)

    def metadata_response(self) -> dict:
        """The signature in TF Serving's /metadata shape."""

        def tensor(name: str, spec: tf.TensorSpec) -> dict:
            dims = [{"size": str(-1 if d is None else d)} for d in spec.shape.as_list()]
            dtype = types_pb2.DataType.Name(spec.dtype.as_datatype_enum)  # DT_FLOAT, DT_STRING
            return {"dtype": dtype, "tensor_shape": {"dim": dims}, "name": name}

        _, inputs = self._signature.structured_input_signature
        outputs = self._signature.structured_outputs
        return {
            "model_spec": {"name": self.model_name, "version": str(self.version)},
            "metadata": {
                "signature_def": {
                    "signature_def": {
                        SIGNATURE: {
                            "inputs": {n: tensor(n, s) for n, s in inputs.items()},
                            "outputs": {n: tensor(n, s) for n, s in outputs.items()},
                            "method_name": "tensorflow/serving/predict",
                        }
                    }
                }
            },
        }
