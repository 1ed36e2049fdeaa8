"""Sliding windows: hand-built example, three builders agree, no window sees its future."""

import numpy as np
import pytest

from serving.contracts.errors import InputError
from trainer.timeseries.windowing import (
    Normalizer,
    WindowSpec,
    features,
    window_arrays,
    window_arrays_loop,
    window_starts,
    windowed_dataset,
)


def _indexed(n):
    """Features whose value column is the step index, so a window shows where it came from."""
    steps = np.arange(n, dtype=np.float32)
    flags = (np.arange(n) % 3 == 0).astype(np.float32)
    return np.stack([steps, flags], axis=1), steps.copy()


def _dataset_arrays(ds):
    inputs, targets = zip(*((x.numpy(), y.numpy()) for x, y in ds), strict=True)
    return np.concatenate(inputs), np.concatenate(targets)


@pytest.mark.parametrize("field", ["window", "horizon", "stride"])
@pytest.mark.parametrize("bad", [0, -1, 1.5, True])
def test_window_spec_refuses_non_positive_fields(field, bad):
    arguments = {"window": 4, field: bad}
    with pytest.raises(InputError, match=rf"^{field} must be a whole number >= 1"):
        WindowSpec(**arguments)


def test_windows_equal_a_hand_built_example():
    feats = np.array([[10, 0], [11, 1], [12, 0], [13, 0], [14, 1], [15, 0], [16, 0]], np.float32)
    targets = np.array([0.0, 0.1, 0.2, 0.3, 0.4, 0.5, 0.6], np.float32)
    spec = WindowSpec(window=3, horizon=2, stride=2)
    inputs, outputs = window_arrays(feats, targets, spec, 0, 7)
    expected_inputs = np.array(
        [
            [[10, 0], [11, 1], [12, 0]],  # s = 0, predicts steps 3 and 4
            [[12, 0], [13, 0], [14, 1]],  # s = 2, predicts steps 5 and 6
        ],
        np.float32,
    )
    np.testing.assert_array_equal(inputs, expected_inputs)
    np.testing.assert_array_equal(outputs, np.array([[0.3, 0.4], [0.5, 0.6]], np.float32))
    assert inputs.dtype == outputs.dtype == np.float32
    np.testing.assert_array_equal(window_starts(spec, 0, 7), [0, 2])


def test_window_starts_by_hand():
    np.testing.assert_array_equal(window_starts(WindowSpec(3), 0, 6), [0, 1, 2])
    np.testing.assert_array_equal(window_starts(WindowSpec(3, horizon=2), 0, 6), [0, 1])
    # Targets from step 6 on: the first window reads steps 3-5 as inputs.
    np.testing.assert_array_equal(window_starts(WindowSpec(3, horizon=2), 6, 10), [3, 4, 5])
    np.testing.assert_array_equal(window_starts(WindowSpec(3, 2, stride=2), 6, 10), [3, 5])
    # A range starting before `window` cannot reach back before step 0.
    np.testing.assert_array_equal(window_starts(WindowSpec(4), 2, 7), [0, 1, 2])
    empty = window_starts(WindowSpec(4, horizon=3), 0, 6)
    assert empty.shape == (0,) and empty.dtype == np.int64


SPECS = [
    (WindowSpec(48), 0, 700),
    (WindowSpec(48, horizon=24), 0, 700),
    (WindowSpec(48, horizon=24, stride=5), 0, 700),
    (WindowSpec(12, horizon=3, stride=4), 300, 650),
    (WindowSpec(5, horizon=2), 2, 9),
    (WindowSpec(24, horizon=6, stride=7), 600, 700),
]


@pytest.mark.parametrize(("spec", "start", "end"), SPECS)
def test_tf_data_numpy_and_loop_give_the_same_windows_in_order(spec, start, end):
    rng = np.random.default_rng(0)
    feats = rng.normal(size=(700, 2)).astype(np.float32)
    targets = rng.normal(size=700).astype(np.float32)
    fast = window_arrays(feats, targets, spec, start, end)
    loop = window_arrays_loop(feats, targets, spec, start, end)
    ds = windowed_dataset(feats, targets, spec, start, end, batch_size=32)
    data = _dataset_arrays(ds)
    starts = window_starts(spec, start, end)
    assert len(starts) > 0
    for inputs, outputs in (fast, loop, data):
        assert inputs.shape == (len(starts), spec.window, 2)
        assert outputs.shape == (len(starts), spec.horizon)
        np.testing.assert_array_equal(inputs, fast[0])
        np.testing.assert_array_equal(outputs, fast[1])
    np.testing.assert_array_equal(fast[0][:, 0], feats[starts])
    np.testing.assert_array_equal(fast[1][:, -1], targets[starts + spec.length - 1])


def test_dataset_batches_have_static_window_shapes_and_float32():
    feats, targets = _indexed(100)
    ds = windowed_dataset(feats, targets, WindowSpec(10, horizon=4), 0, 100, batch_size=16)
    x_spec, y_spec = ds.element_spec
    assert x_spec.shape.as_list() == [None, 10, 2] and y_spec.shape.as_list() == [None, 4]
    assert x_spec.dtype.name == y_spec.dtype.name == "float32"
    sizes = [int(x.shape[0]) for x, _ in ds]
    assert sizes == [16] * 5 + [7]  # 87 windows


@pytest.mark.parametrize("spec", [WindowSpec(6), WindowSpec(6, horizon=4, stride=3)])
def test_a_later_target_range_reads_earlier_inputs_but_no_target_outside_it(spec):
    feats, targets = _indexed(200)
    begin, end = 120, 170
    for inputs, outputs in (
        window_arrays(feats, targets, spec, begin, end),
        window_arrays_loop(feats, targets, spec, begin, end),
        _dataset_arrays(windowed_dataset(feats, targets, spec, begin, end, batch_size=8)),
    ):
        assert outputs.min() == begin  # the first window predicts the range's first step
        assert outputs.max() <= end - 1
        assert inputs[0, 0, 0] == begin - spec.window  # ... from inputs before the range
        # Inputs are the `window` steps right before each window's first target.
        np.testing.assert_array_equal(inputs[:, -1, 0] + 1, outputs[:, 0])
        np.testing.assert_array_equal(np.diff(inputs[:, :, 0], axis=1), 1)
        np.testing.assert_array_equal(np.diff(outputs, axis=1), 1)
        np.testing.assert_array_equal(np.diff(outputs[:, 0]), spec.stride)


def test_horizon_and_stride_windows_cover_the_range_exactly():
    feats, targets = _indexed(50)
    spec = WindowSpec(4, horizon=3, stride=2)
    inputs, outputs = window_arrays(feats, targets, spec, 0, 50)
    # Starts 0, 2, ..., 42 (the last window's targets are 46-48; 44 would need step 50).
    np.testing.assert_array_equal(inputs[:, 0, 0], np.arange(0, 43, 2))
    np.testing.assert_array_equal(outputs[-1], [46, 47, 48])
    np.testing.assert_array_equal(inputs[:, :, 1], feats[inputs[:, :, 0].astype(int), 1])


def test_too_short_range_gives_empty_arrays_and_a_dataset_error():
    feats, targets = _indexed(30)
    spec = WindowSpec(8, horizon=3)
    inputs, outputs = window_arrays(feats, targets, spec, 0, 10)
    assert inputs.shape == (0, 8, 2) and outputs.shape == (0, 3)
    inputs, outputs = window_arrays_loop(feats, targets, spec, 0, 10)
    assert inputs.shape == (0, 8, 2) and outputs.shape == (0, 3)
    with pytest.raises(InputError, match=r"\[0, 10\) has 10 points .* window \+ horizon = 8 \+ 3"):
        windowed_dataset(feats, targets, spec, 0, 10, batch_size=4)
    # A later range of 2 points cannot hold 3 targets, however many inputs lie before it.
    with pytest.raises(InputError, match=r"has 2 points \(plus 8 earlier input points\)"):
        windowed_dataset(feats, targets, spec, 20, 22, batch_size=4)


def test_bad_ranges_and_shapes_are_refused():
    feats, targets = _indexed(30)
    spec = WindowSpec(4)
    with pytest.raises(InputError, match=r"ends at 31 but the series has 30 points"):
        window_arrays(feats, targets, spec, 0, 31)
    with pytest.raises(InputError, match=r"target range \[-1, 10\) is invalid"):
        window_arrays_loop(feats, targets, spec, -1, 10)
    with pytest.raises(InputError, match=r"same length"):
        window_arrays(feats, targets[:-1], spec, 0, 10)
    with pytest.raises(InputError, match=r"batch_size"):
        windowed_dataset(feats, targets, spec, 0, 30, batch_size=0)


def test_shuffle_reorders_whole_windows_and_keeps_their_contents():
    feats, targets = _indexed(400)
    spec = WindowSpec(12, horizon=3)
    ordered = window_arrays(feats, targets, spec, 0, 400)
    ds = windowed_dataset(feats, targets, spec, 0, 400, batch_size=32, shuffle=True, seed=3)
    epochs = [_dataset_arrays(ds) for _ in range(2)]
    for inputs, outputs in epochs:
        firsts = inputs[:, 0, 0].astype(int)
        assert not np.array_equal(firsts, np.sort(firsts))  # shuffled
        order = np.argsort(firsts)
        np.testing.assert_array_equal(inputs[order], ordered[0])  # same windows, intact
        np.testing.assert_array_equal(outputs[order], ordered[1])
    assert not np.array_equal(epochs[0][0], epochs[1][0])  # a new order every epoch
    again = windowed_dataset(feats, targets, spec, 0, 400, batch_size=32, shuffle=True, seed=3)
    np.testing.assert_array_equal(_dataset_arrays(again)[0], epochs[0][0])  # seeded


def test_normalizer_fit_on_the_training_range_ignores_later_values():
    rng = np.random.default_rng(1)
    values = rng.normal(50, 5, size=300).astype(np.float32)
    imputed = np.zeros(300, bool)
    train_end = 200
    normalizer = Normalizer.fit(values[:train_end])
    assert normalizer.mean == pytest.approx(float(values[:train_end].astype(np.float64).mean()))
    assert normalizer.std == pytest.approx(float(values[:train_end].astype(np.float64).std()))
    shifted = values.copy()
    shifted[train_end:] = shifted[train_end:] * 100 + 1e4  # a different future
    assert Normalizer.fit(shifted[:train_end]) == normalizer
    assert Normalizer.fit(shifted) != normalizer  # ... which fitting on everything would see
    train = normalizer.normalize(values[:train_end])
    assert abs(float(train.mean())) < 1e-5 and float(train.std()) == pytest.approx(1, abs=1e-5)
    feats = features(shifted, imputed, normalizer)
    np.testing.assert_array_equal(feats[:train_end], features(values, imputed, normalizer)[:200])


def test_normalizer_round_trip_and_constant_series():
    values = np.array([2.0, 4.0, 6.0], np.float32)
    normalizer = Normalizer.fit(values)
    normalised = normalizer.normalize(values)
    assert normalised.dtype == np.float32
    np.testing.assert_allclose(normalised, [-1.2247449, 0, 1.2247449], rtol=1e-6)
    np.testing.assert_allclose(normalizer.denormalize(normalised), values, rtol=1e-6)
    # In float64 the mean of fifty 0.1s is not exactly 0.1, so np.std is ~1e-17, not 0.
    assert Normalizer.fit(np.full(50, 0.1)).std == 1.0
    constant = Normalizer.fit(np.full(50, 0.1, np.float32))
    assert constant.std == 1.0
    assert constant.mean == pytest.approx(0.1)
    np.testing.assert_allclose(constant.normalize(np.full(5, 0.1, np.float32)), 0, atol=1e-7)
    np.testing.assert_allclose(constant.denormalize(np.array([1.0])), [1.1], rtol=1e-6)
    with pytest.raises(InputError, match="0 values"):
        Normalizer.fit(np.array([]))
    with pytest.raises(InputError, match="1 NaN"):
        Normalizer.fit(np.array([1.0, np.nan]))


def test_features_are_normalised_value_and_imputed_flag():
    normalizer = Normalizer(mean=10.0, std=2.0)
    feats = features(
        np.array([10.0, 12.0, 6.0], np.float32), np.array([False, True, False]), normalizer
    )
    assert feats.dtype == np.float32
    np.testing.assert_array_equal(feats, [[0, 0], [1, 1], [-2, 0]])
    with pytest.raises(InputError, match="same length"):
        features(np.zeros(3), np.zeros(2, bool), normalizer)
