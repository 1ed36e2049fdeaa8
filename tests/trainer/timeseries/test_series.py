"""A regular series from an ingested table: parsing, repairs, imputation and bad input."""

import datetime as dt
import re

import numpy as np
import pandas as pd
import pyarrow as pa
import pyarrow.parquet as pq
import pytest

from serving.contracts.errors import InputError
from trainer.timeseries.series import (
    IMPUTATIONS,
    Series,
    prepare_series,
    read_series,
)

T0 = pd.Timestamp("2024-03-01 00:00")


def _hours(*offsets):
    return [T0 + pd.Timedelta(hours=h) for h in offsets]


def _table(times, values):
    return pd.DataFrame({"ts": times, "y": values})


def _regular(series: Series):
    steps = np.diff(series.timestamps)
    assert series.timestamps.dtype == np.dtype("datetime64[ns]")
    assert series.values.dtype == np.float32
    assert series.imputed.dtype == bool
    assert len(set(steps.tolist())) == 1 and steps[0] > np.timedelta64(0)
    assert not np.isnan(series.values).any()


def test_gap_of_two_hours_is_interpolated_linearly_and_flagged():
    table = _table(_hours(0, 1, 2, 5, 6), [0.0, 1.0, 2.0, 5.0, 6.0])
    series = prepare_series(table, "ts", "y")
    _regular(series)
    np.testing.assert_array_equal(series.values, [0, 1, 2, 3, 4, 5, 6])
    np.testing.assert_array_equal(series.imputed, [0, 0, 0, 1, 1, 0, 0])
    assert series.timestamps[3] == np.datetime64("2024-03-01T03:00", "ns")
    assert series.frequency == "h"
    assert series.report["missing_timestamps"] == 2
    assert series.report["missing_values"] == 0
    assert series.report["imputed"] == 2
    assert series.report["imputation"] == "interpolate"


def test_gap_is_forward_filled():
    table = _table(_hours(0, 1, 2, 5, 6), [0.0, 1.0, 2.0, 5.0, 6.0])
    series = prepare_series(table, "ts", "y", imputation="forward_fill")
    np.testing.assert_array_equal(series.values, [0, 1, 2, 2, 2, 5, 6])
    np.testing.assert_array_equal(series.imputed, [0, 0, 0, 1, 1, 0, 0])
    assert series.report["imputation"] == "forward_fill"


@pytest.mark.parametrize(
    ("imputation", "expected"),
    [("interpolate", [10, 20, 30, 40, 40]), ("forward_fill", [10, 20, 20, 40, 40])],
)
def test_nan_values_in_existing_rows_are_imputed(imputation, expected):
    table = _table(_hours(0, 1, 2, 3, 4), [10.0, 20.0, np.nan, 40.0, None])
    series = prepare_series(table, "ts", "y", imputation=imputation)
    np.testing.assert_array_equal(series.values, expected)
    np.testing.assert_array_equal(series.imputed, [0, 0, 1, 0, 1])
    assert series.report["missing_values"] == 2
    assert series.report["missing_timestamps"] == 0
    assert series.report["imputed"] == 2


@pytest.mark.parametrize("imputation", IMPUTATIONS)
def test_leading_nan_takes_the_first_observed_value(imputation):
    table = _table(_hours(0, 1, 2, 3), [np.nan, np.nan, 4.0, 6.0])
    series = prepare_series(table, "ts", "y", imputation=imputation)
    np.testing.assert_array_equal(series.values, [4, 4, 4, 6])
    np.testing.assert_array_equal(series.imputed, [1, 1, 0, 0])


def test_interpolation_is_linear_in_time_not_in_steps():
    # Monthly starts: January has 31 days and February 2024 29, so the missing 1 February
    # lies 31/60 of the way from 1 January (0) to 1 March (60).
    table = _table(pd.to_datetime(["2024-01-01", "2024-03-01", "2024-04-01"]), [0.0, 60.0, 91.0])
    series = prepare_series(table, "ts", "y", frequency="MS")
    np.testing.assert_allclose(series.values, [0, 31, 60, 91])
    np.testing.assert_array_equal(series.imputed, [0, 1, 0, 0])


def test_duplicates_are_averaged_whatever_the_row_order():
    times = _hours(0, 1, 1, 1, 2, 3, 3)
    values = [1.0, 0.1, 0.2, 0.7, 5.0, np.nan, 8.0]
    expected = [1.0, 1.0 / 3, 5.0, 8.0]
    rng = np.random.default_rng(0)
    results = []
    for _ in range(6):
        order = rng.permutation(len(times))
        table = _table([times[i] for i in order], [values[i] for i in order])
        series = prepare_series(table, "ts", "y")
        np.testing.assert_allclose(series.values, expected, rtol=1e-6)
        assert series.report["duplicate_timestamps"] == 3
        results.append(series.values.tobytes())
    assert len(set(results)) == 1
    # The NaN at hour 3 has a real value beside it: nothing was imputed.
    assert not series.imputed.any()
    assert series.report["missing_values"] == 0


def test_unsorted_rows_are_sorted_and_counted():
    table = _table(_hours(0, 2, 1, 3, 5, 4, 6), [0.0, 2.0, 1.0, 3.0, 5.0, 4.0, 6.0])
    series = prepare_series(table, "ts", "y")
    np.testing.assert_array_equal(series.values, np.arange(7))
    assert series.report["unsorted_rows"] == 2
    assert series.report["duplicate_timestamps"] == 0
    assert not series.imputed.any()


def test_frequency_is_the_most_common_step():
    offsets = [0, 0.25, 0.5, 0.75, 1.5, 1.75, 2.5]  # 15-minute steps with two gaps
    times = [T0 + pd.Timedelta(hours=h) for h in offsets]
    series = prepare_series(_table(times, np.arange(7.0)), "ts", "y")
    assert series.frequency == "15min"
    assert series.report["points"] == 11
    assert series.report["missing_timestamps"] == 4
    _regular(series)


@pytest.mark.parametrize(
    ("times", "expected"),
    [
        (pd.date_range("2024-01-01", periods=5, freq="D"), "D"),
        (pd.to_datetime(["2024-01-01", "2024-01-02", "2024-01-05", "2024-01-06"]), "D"),
        (pd.date_range("2024-01-01", periods=6, freq="MS"), "MS"),
        (pd.date_range("2024-01-01", periods=4, freq="90min"), "90min"),
    ],
)
def test_inferred_frequency_names(times, expected):
    series = prepare_series(_table(times, np.arange(len(times), dtype=float)), "ts", "y")
    assert series.frequency == expected
    assert series.report["frequency"] == expected


def test_given_frequency_inserts_the_steps_between():
    series = prepare_series(_table(_hours(0, 1, 2), [0.0, 2.0, 4.0]), "ts", "y", frequency="30min")
    np.testing.assert_array_equal(series.values, [0, 1, 2, 3, 4])
    np.testing.assert_array_equal(series.imputed, [0, 1, 0, 1, 0])
    assert series.frequency == "30min"


def test_string_timestamps_parse_including_mixed_iso_forms():
    times = ["2024-03-01", "2024-03-01 01:00:00", "2024-03-01T02:00", "2024-03-01 03:00:00"]
    series = prepare_series(_table(times, [0.0, 1.0, 2.0, 3.0]), "ts", "y")
    assert series.timestamps[0] == np.datetime64("2024-03-01T00:00", "ns")
    assert series.frequency == "h"
    np.testing.assert_array_equal(series.values, [0, 1, 2, 3])
    us_style = ["03/01/2024 00:00", "03/01/2024 01:00", "03/01/2024 02:00"]
    series = prepare_series(_table(us_style, [1, 2, 3]), "ts", "y")
    assert series.timestamps[-1] == np.datetime64("2024-03-01T02:00", "ns")


def test_timezone_aware_times_become_naive_utc():
    strings = ["2024-03-01 02:00+02:00", "2024-03-01 03:00+02:00", "2024-03-01 02:00+00:00"]
    series = prepare_series(_table(strings, [1.0, 2.0, 3.0]), "ts", "y")
    np.testing.assert_array_equal(
        series.timestamps,
        np.array(["2024-03-01T00:00", "2024-03-01T01:00", "2024-03-01T02:00"], "datetime64[ns]"),
    )
    aware = pd.date_range("2024-03-01 09:00", periods=3, freq="h", tz="Asia/Tokyo")
    series = prepare_series(_table(aware, [1.0, 2.0, 3.0]), "ts", "y")
    assert series.timestamps[0] == np.datetime64("2024-03-01T00:00", "ns")
    assert series.report["start"] == "2024-03-01T00:00:00"


def test_rows_without_time_are_dropped_and_counted():
    table = _table(["2024-03-01 00:00", None, "", "2024-03-01 01:00"], [1.0, 99.0, 98.0, 2.0])
    series = prepare_series(table, "ts", "y")
    np.testing.assert_array_equal(series.values, [1, 2])
    assert series.report["rows_without_time"] == 2
    assert series.report["rows_read"] == 4


def test_numeric_text_target_and_missing_spellings():
    table = _table(_hours(0, 1, 2, 3), ["1.5", "", "NaN", "4.5"])
    series = prepare_series(table, "ts", "y")
    np.testing.assert_allclose(series.values, [1.5, 2.5, 3.5, 4.5])
    assert series.report["missing_values"] == 2


def test_report_is_complete_and_consistent():
    table = _table(_hours(3, 0, 1, 1, 5, 6), [3.0, 0.0, 1.0, 3.0, np.nan, 6.0])
    series = prepare_series(table, "ts", "y")
    assert series.report == {
        "rows_read": 6,
        "rows_without_time": 0,
        "unsorted_rows": 1,
        "duplicate_timestamps": 1,
        "missing_timestamps": 2,  # hours 2 and 4
        "missing_values": 1,  # hour 5
        "imputed": 3,
        "imputation": "interpolate",
        "frequency": "h",
        "start": "2024-03-01T00:00:00",
        "end": "2024-03-01T06:00:00",
        "points": 7,
    }
    assert int(series.imputed.sum()) == series.report["imputed"] == len(series) - 4
    np.testing.assert_allclose(series.values, [0, 2, 2.5, 3, 4, 5, 6])


def test_read_series_from_parquet_with_aware_timestamps(tmp_path):
    times = pa.array(
        [dt.datetime(2024, 3, 1, h, tzinfo=dt.UTC) for h in (0, 1, 3)], pa.timestamp("us", "UTC")
    )
    table = pa.table({"ts": times, "y": [1.0, 2.0, 4.0], "other": ["a", "b", "c"]})
    pq.write_table(table, tmp_path / "data.parquet")
    series = read_series(tmp_path, "ts", "y")
    np.testing.assert_array_equal(series.values, [1, 2, 3, 4])
    assert series.timestamps[0] == np.datetime64("2024-03-01T00:00", "ns")


def test_read_series_dates(tmp_path):
    days = pa.array([dt.date(2024, 3, d) for d in (1, 2, 3, 5)], pa.date32())
    pq.write_table(pa.table({"day": days, "y": [1, 2, 3, 5]}), tmp_path / "data.parquet")
    series = read_series(str(tmp_path), "day", "y")
    assert series.frequency == "D"
    np.testing.assert_array_equal(series.values, [1, 2, 3, 4, 5])


def test_read_series_errors_name_the_file_and_columns(tmp_path):
    with pytest.raises(InputError, match=r"data\.parquet does not exist"):
        read_series(tmp_path, "ts", "y")
    pq.write_table(pa.table({"when": [1], "y": [1.0]}), tmp_path / "data.parquet")
    with pytest.raises(InputError, match=r"time_column 'ts' is not in .* 2 columns: when, y"):
        read_series(tmp_path, "ts", "y")


GOOD_TIMES = ["2024-03-01 00:00", "2024-03-01 01:00", "2024-03-01 02:00"]


@pytest.mark.parametrize(
    ("table", "kwargs", "patterns"),
    [
        (
            _table(GOOD_TIMES, [1.0, 2.0, 3.0]),
            {"target_column": "sales"},
            [r"target_column 'sales' is not in the table", r"2 columns: ts, y"],
        ),
        (
            _table(GOOD_TIMES, [1.0, 2.0, 3.0]),
            {"time_column": "time"},
            [r"time_column 'time' is not in the table", r"2 columns: ts, y"],
        ),
        (
            _table(GOOD_TIMES, ["1.0", "lots", "n.a."]),
            {},
            [r"target column 'y'", r"2 of 3 values are not numbers", r"'lots', 'n\.a\.'"],
        ),
        (
            _table(GOOD_TIMES, [None, np.nan, None]),
            {},
            [r"target column 'y' has no values", r"all 3 rows"],
        ),
        (
            _table(GOOD_TIMES, [1.0, np.inf, 3.0]),
            {},
            [r"target column 'y' has 1 infinite"],
        ),
        (
            _table(
                ["2024-03-01 00:00", "yesterday-ish", "soon", "2024-03-01 03:00", "later", "x"],
                [1.0] * 6,
            ),
            {},
            [
                r"time column 'ts'",
                r"4 of 6 values do not parse",
                r"'yesterday-ish', 'soon', 'later'",
                r"ISO 8601",
            ],
        ),
        (
            _table([None, None], [1.0, 2.0]),
            {},
            [r"time column 'ts'", r"all 2 rows have no time"],
        ),
        (
            _table([1, 2, 3], [1.0, 2.0, 3.0]),
            {},
            [r"time column 'ts' holds numbers", r"TIMESTAMP"],
        ),
        (
            _table(_hours(0, 1, 2), [1.0, 2.0, 3.0]),
            {"frequency": "2h"},
            [r"1 of 3 timestamps are not on the '2h' grid", r"2024-03-01T01:00:00", r"frequency"],
        ),
        (
            _table(_hours(0, 1, 2, 3.5), [1.0, 2.0, 3.0, 4.0]),
            {},
            [r"not on the 'h' grid", r"e\.g\. 2024-03-01T03:30:00", r"aggregate .* in SQL"],
        ),
        (
            _table(GOOD_TIMES, [1.0, 2.0, 3.0]),
            {"imputation": "mean"},
            [r"imputation 'mean'", r"'forward_fill' or 'interpolate'"],
        ),
        (
            _table(GOOD_TIMES, [1.0, 2.0, 3.0]),
            {"frequency": "fortnightly"},
            [r"frequency 'fortnightly' is not a pandas offset alias"],
        ),
        (
            _table(["2024-03-01"], [1.0]),
            {},
            [r"1 distinct timestamp; needs at least 2", r"frequency"],
        ),
        (
            _table([], []),
            {},
            [r"0 rows"],
        ),
    ],
)
def test_bad_input_is_refused_with_a_message_that_names_it(table, kwargs, patterns):
    arguments = {"time_column": "ts", "target_column": "y", **kwargs}
    with pytest.raises(InputError) as raised:
        prepare_series(
            table,
            arguments.pop("time_column"),
            arguments.pop("target_column"),
            **arguments,
        )
    message = str(raised.value)
    for pattern in patterns:
        assert re.search(pattern, message), (pattern, message)
