"""Sliding windows over a series: the (inputs, targets) examples an LSTM forecaster learns from.

A window starting at step s reads the inputs [s, s + window) and predicts the targets
[s + window, s + window + horizon). Training, validation and test are ranges of *target*
steps: a window belongs to a range when all its targets do. Its inputs may come from before
the range (they are past observations, known when the forecast is made), never from at or
after its first target, so no window sees the future it predicts.

Three builders produce the same windows in the same order: `windowed_dataset` (tf.data, for
Keras), `window_arrays` (vectorised numpy, for evaluation and tests) and `window_arrays_loop`
(a plain loop: the naive baseline of the benchmark and the reference of the tests).
"""

from __future__ import annotations

from dataclasses import dataclass, fields
from typing import TYPE_CHECKING

import numpy as np
from numpy.lib.stride_tricks import sliding_window_view

from serving.contracts.errors import InputError

if TYPE_CHECKING:
    import tensorflow as tf


@dataclass(frozen=True)
class WindowSpec:
    """Input length, forecast length and step between consecutive windows, in series steps."""

    window: int  # input steps
    horizon: int = 1  # forecast steps
    stride: int = 1  # steps between consecutive windows

    def __post_init__(self) -> None:
        for field in fields(self):
            value = getattr(self, field.name)
            if isinstance(value, bool) or not isinstance(value, int | np.integer) or value < 1:
                raise InputError(f"{field.name} must be a whole number >= 1, got {value!r}.")

    @property
    def length(self) -> int:
        """Steps one window spans: window inputs then horizon targets."""
        return self.window + self.horizon


@dataclass(frozen=True)
class Normalizer:
    """z-score scaling with statistics of the training range only.

    Fitting on the whole series would leak the level and spread of the validation and test
    ranges into training; `fit` is therefore given the training values alone.
    """

    mean: float
    std: float  # never 0: a constant series gets std 1.0

    @classmethod
    def fit(cls, values: np.ndarray) -> Normalizer:
        data = np.asarray(values, dtype=np.float64).ravel()
        if data.size == 0:
            raise InputError("Normalizer.fit got 0 values; needs at least 1 (a training range).")
        if not np.isfinite(data).all():
            raise InputError(
                f"Normalizer.fit got {int((~np.isfinite(data)).sum())} NaN or infinite values; "
                "impute the series first (trainer.timeseries.series.prepare_series)."
            )
        mean = float(data.mean())
        std = float(data.std())
        if np.ptp(data) == 0 or not std > 0:
            std = 1.0  # a constant series: centre it, nothing to scale
        return cls(mean=mean, std=std)

    def normalize(self, x: np.ndarray) -> np.ndarray:
        return ((np.asarray(x, dtype=np.float64) - self.mean) / self.std).astype(np.float32)

    def denormalize(self, x: np.ndarray) -> np.ndarray:
        return (np.asarray(x, dtype=np.float64) * self.std + self.mean).astype(np.float32)

    def to_dict(self) -> dict:
        return {"mean": self.mean, "std": self.std}


def features(values: np.ndarray, imputed: np.ndarray, normalizer: Normalizer) -> np.ndarray:
    """float32 [n, 2]: the normalised value and 1.0 where it was imputed (the model's input)."""
    values = np.asarray(values)
    imputed = np.asarray(imputed)
    if values.ndim != 1 or values.shape != imputed.shape:
        raise InputError(
            f"features needs 1-D values and imputed flags of the same length, got shapes "
            f"{values.shape} and {imputed.shape}."
        )
    return np.stack([normalizer.normalize(values), imputed.astype(np.float32)], axis=1)


def window_starts(spec: WindowSpec, targets_from: int, targets_to: int) -> np.ndarray:
    """int64 start indices of every window whose targets lie inside [targets_from, targets_to).

    The first window's first target is `targets_from` (or `window` when the range starts
    earlier: the inputs cannot start before step 0); later ones follow every `stride` steps.
    Empty when the range cannot hold a window.
    """
    _check_range(targets_from, targets_to)
    first = max(0, targets_from - spec.window)
    last = targets_to - spec.window - spec.horizon  # inclusive
    if last < first:
        return np.zeros(0, dtype=np.int64)
    return np.arange(first, last + 1, spec.stride, dtype=np.int64)


def window_arrays(
    features_: np.ndarray,
    targets: np.ndarray,
    spec: WindowSpec,
    targets_from: int,
    targets_to: int,
) -> tuple[np.ndarray, np.ndarray]:
    """inputs float32 [N, window, F] and targets float32 [N, horizon], vectorised.

    sliding_window_view gives every window as a strided view without copying; taking the
    wanted starts from it copies each window as a block, several times faster than fancy
    indexing with a [N, window] index array (which copies one row at a time).
    """
    features_, targets = _check_series(features_, targets, targets_to)
    starts = window_starts(spec, targets_from, targets_to)
    if len(starts) == 0:
        empty = np.zeros((0, spec.window, features_.shape[1]), np.float32)
        return empty, np.zeros((0, spec.horizon), np.float32)
    windows = sliding_window_view(features_, spec.window, axis=0)  # [n - window + 1, F, window]
    inputs = np.ascontiguousarray(windows[starts].transpose(0, 2, 1))
    outputs = sliding_window_view(targets, spec.horizon)[starts + spec.window]
    return inputs, outputs


def window_arrays_loop(
    features_: np.ndarray,
    targets: np.ndarray,
    spec: WindowSpec,
    targets_from: int,
    targets_to: int,
) -> tuple[np.ndarray, np.ndarray]:
    """The same windows as `window_arrays`, one slice at a time: the obvious way to write it."""
    features_, targets = _check_series(features_, targets, targets_to)
    _check_range(targets_from, targets_to)
    inputs, outputs = [], []
    start = max(0, targets_from - spec.window)
    while start + spec.window + spec.horizon <= targets_to:
        inputs.append(features_[start : start + spec.window])
        outputs.append(targets[start + spec.window : start + spec.window + spec.horizon])
        start += spec.stride
    if not inputs:
        return (
            np.zeros((0, spec.window, features_.shape[1]), np.float32),
            np.zeros((0, spec.horizon), np.float32),
        )
    return np.stack(inputs), np.stack(outputs)


def windowed_dataset(
    features_: np.ndarray,
    targets: np.ndarray,
    spec: WindowSpec,
    targets_from: int,
    targets_to: int,
    *,
    batch_size: int,
    shuffle: bool = False,
    seed: int = 0,
) -> tf.data.Dataset:
    """tf.data of (inputs [b, window, F], targets [b, horizon]) batches, both float32.

    The dataset holds only the window start indices; each batch gathers its windows from the
    series in one vectorised `tf.gather`, so a window is never materialised element by
    element (timeseries_dataset_from_array maps a slice per window: see the windowing
    benchmark). Unshuffled, the batches hold exactly `window_arrays`' windows in order.
    `shuffle` reshuffles the order of whole windows every epoch; the steps inside a window
    stay in time order.
    """
    import tensorflow as tf

    features_, targets = _check_series(features_, targets, targets_to)
    if isinstance(batch_size, bool) or not isinstance(batch_size, int) or batch_size < 1:
        raise InputError(f"batch_size must be a whole number >= 1, got {batch_size!r}.")
    starts = window_starts(spec, targets_from, targets_to)
    if len(starts) == 0:
        earlier = min(targets_from, spec.window)
        raise InputError(
            f"The target range [{targets_from}, {targets_to}) has "
            f"{targets_to - targets_from} points (plus {earlier} earlier input points); one "
            f"window needs window + horizon = {spec.window} + {spec.horizon} = {spec.length}: "
            "use a longer series, a larger range or a shorter window or horizon."
        )
    series = tf.constant(features_)
    future = tf.constant(targets)
    input_offsets = tf.range(spec.window, dtype=tf.int64)
    target_offsets = tf.range(spec.window, spec.length, dtype=tf.int64)

    def gather(batch_starts: tf.Tensor) -> tuple[tf.Tensor, tf.Tensor]:
        column = batch_starts[:, None]
        return (
            tf.gather(series, column + input_offsets),
            tf.gather(future, column + target_offsets),
        )

    ds = tf.data.Dataset.from_tensor_slices(starts)
    if shuffle:  # indices are 8 bytes each: a full-size buffer is cheap and a true shuffle
        ds = ds.shuffle(len(starts), seed=seed, reshuffle_each_iteration=True)
    ds = ds.batch(batch_size).map(gather, num_parallel_calls=tf.data.AUTOTUNE)
    return ds.prefetch(tf.data.AUTOTUNE)


def _check_range(targets_from: int, targets_to: int) -> None:
    if targets_from < 0 or targets_to < targets_from:
        raise InputError(
            f"target range [{targets_from}, {targets_to}) is invalid: needs "
            "0 <= targets_from <= targets_to."
        )


def _check_series(
    features_: np.ndarray, targets: np.ndarray, targets_to: int
) -> tuple[np.ndarray, np.ndarray]:
    features_ = np.asarray(features_, dtype=np.float32)
    targets = np.asarray(targets, dtype=np.float32)
    if features_.ndim != 2 or targets.ndim != 1 or len(features_) != len(targets):
        raise InputError(
            f"windows need features [n, F] and targets [n] of the same length, got shapes "
            f"{features_.shape} and {targets.shape}."
        )
    if targets_to > len(targets):
        raise InputError(
            f"target range ends at {targets_to} but the series has {len(targets)} points."
        )
    return features_, targets
