"""A clean, regular time series from an ingested table (see the time-series case study).

An LSTM reads fixed-length windows of consecutive steps, so the series it sees must be
regular: one value per step, no gaps, no duplicates, in time order. Tables from BigQuery,
CSV exports or sensors are rarely that, so `prepare_series` parses the time column, sorts,
averages duplicate timestamps, re-indexes onto a regular grid and imputes the gaps. Every
repair is counted in `Series.report` (for the manifest) and every filled point is flagged in
`Series.imputed`, which the model receives as an input feature: the LSTM can learn to trust an
interpolated value less than a measured one.
"""

from __future__ import annotations

import warnings
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import pandas as pd
from pandas.api import types as ptypes
from pandas.tseries.frequencies import to_offset

from serving.contracts.errors import InputError
from trainer.timeseries.config import IMPUTATIONS, check_frequency

# A grid larger than this is almost always a too-fine `frequency` (seconds over years), and
# would take gigabytes before anything useful happens.
MAX_POINTS = 20_000_000
# Text that means "no value" in CSV-style exports; it is a missing value, not a bad number.
MISSING_TEXT = frozenset({"", "nan", "null", "none", "na", "n/a"})
EXAMPLES = 3


@dataclass(frozen=True)
class Series:
    """A regular series: one float32 value per step of `frequency`, gaps imputed and flagged."""

    timestamps: np.ndarray  # datetime64[ns], strictly increasing, regular spacing
    values: np.ndarray  # float32, no NaN (imputed where missing)
    imputed: np.ndarray  # bool, True where the value was filled in (gap or missing value)
    frequency: str  # pandas offset alias, e.g. "h", "D"
    report: dict  # counts for the manifest

    def __len__(self) -> int:
        return len(self.values)


def read_series(
    dataset_dir: str | Path,
    time_column: str,
    target_column: str,
    *,
    frequency: str = "",
    imputation: str = "interpolate",
) -> Series:
    """`prepare_series` on <dataset_dir>/data.parquet, reading only the two columns it needs."""
    import pyarrow.parquet as pq

    path = Path(dataset_dir) / "data.parquet"
    if not path.is_file():
        raise InputError(
            f"{path} does not exist: the time-series dataset has 0 data files; "
            "run the ingest step first or point dataset_dir at its output."
        )
    available = pq.read_schema(path).names
    for label, column in (("time_column", time_column), ("target_column", target_column)):
        _require_column(column, label, available)
    table = pd.read_parquet(path, columns=list(dict.fromkeys([time_column, target_column])))
    return prepare_series(
        table, time_column, target_column, frequency=frequency, imputation=imputation
    )


def prepare_series(
    table: pd.DataFrame,
    time_column: str,
    target_column: str,
    *,
    frequency: str = "",
    imputation: str = "interpolate",
) -> Series:
    """Parse, sort, de-duplicate, re-index onto a regular grid and impute one target column.

    `frequency` is a pandas offset alias ("h", "15min", "D", "MS"); empty infers it from the
    timestamps. `imputation` fills missing values: "forward_fill" repeats the last observed
    value, "interpolate" draws a straight line in time between the observed values on either
    side. Leading missing values have nothing before them and take the first observed value.
    """
    if imputation not in IMPUTATIONS:
        raise InputError(
            f"imputation {imputation!r} is not one of the {len(IMPUTATIONS)} modes: choose "
            f"{' or '.join(repr(m) for m in IMPUTATIONS)}."
        )
    available = [str(c) for c in table.columns]
    _require_column(time_column, "time_column", available)
    _require_column(target_column, "target_column", available)
    rows_read = len(table)
    if rows_read == 0:
        raise InputError(
            "The table has 0 rows; a forecast needs at least 2: check the source query or file."
        )

    times = parse_times(table[time_column], time_column)
    values = parse_target(table[target_column], target_column)
    with_time = times.notna().to_numpy()
    rows_without_time = int((~with_time).sum())
    frame = pd.DataFrame(
        {"time": times.to_numpy()[with_time], "value": values[with_time]}
    ).reset_index(drop=True)
    if frame.empty:
        raise InputError(
            f"time column {time_column!r}: all {rows_read} rows have no time (NULL), "
            "so there is no series: check the column or the source query."
        )
    if frame["value"].isna().all():
        raise InputError(
            f"target column {target_column!r} has no values: all {len(frame)} rows with a time "
            "are NULL or NaN; check the column or the source query."
        )

    # Rows earlier than the row before them; a stable sort keeps equal times in input order.
    unsorted_rows = int((frame["time"].diff() < pd.Timedelta(0)).sum())
    # Sorting the values inside each timestamp makes the mean of duplicates independent of
    # the input row order, down to the last bit of the float sum.
    frame = frame.sort_values(["time", "value"], kind="stable", na_position="last")
    merged = frame.groupby("time", sort=True)["value"].mean()
    duplicate_timestamps = len(frame) - len(merged)
    missing_values = int(merged.isna().sum())

    observed = pd.DatetimeIndex(merged.index).as_unit("ns")
    if not frequency:
        frequency = infer_frequency(observed, time_column)
    offset = check_frequency(frequency)
    grid = _grid(observed, offset, frequency, time_column)
    off_grid = ~observed.isin(grid)
    if off_grid.any():
        example = observed[off_grid][0]
        raise InputError(
            f"time column {time_column!r}: {int(off_grid.sum())} of {len(observed)} timestamps "
            f"are not on the {frequency!r} grid starting at {observed[0].isoformat()}, "
            f"e.g. {example.isoformat()}. Pass the series' real `frequency` parameter, or "
            "aggregate to a regular step in SQL (e.g. TIMESTAMP_TRUNC and AVG ... GROUP BY)."
        )

    regular = pd.Series(merged.to_numpy(dtype=np.float64), index=observed).reindex(grid)
    imputed = regular.isna().to_numpy()
    if imputation == "forward_fill":
        filled = regular.ffill()
    else:
        filled = regular.interpolate(method="time", limit_area="inside").ffill()
    filled = filled.bfill()

    points = len(grid)
    # missing_values counts timestamps present in the table whose value is NULL/NaN after
    # duplicates were merged, so imputed == missing_timestamps + missing_values.
    report = {
        "rows_read": rows_read,
        "rows_without_time": rows_without_time,
        "unsorted_rows": unsorted_rows,
        "duplicate_timestamps": duplicate_timestamps,
        "missing_timestamps": points - len(observed),
        "missing_values": missing_values,
        "imputed": int(imputed.sum()),
        "imputation": imputation,
        "frequency": frequency,
        "start": grid[0].isoformat(),
        "end": grid[-1].isoformat(),
        "points": points,
    }
    return Series(
        timestamps=grid.to_numpy(dtype="datetime64[ns]"),
        values=filled.to_numpy(dtype=np.float32),
        imputed=imputed,
        frequency=frequency,
        report=report,
    )


def parse_times(column: pd.Series, name: str) -> pd.Series:
    """datetime64[ns] (naive UTC) for a timestamp, date or text column; NaT where NULL.

    Text is parsed in the format pandas infers from the first value, then as ISO 8601 (which
    accepts "2024-01-01" next to "2024-01-01 01:00"); a value neither accepts is an error, not
    a silently dropped row. Time-zone-aware values are converted to UTC, then made naive.
    """
    if ptypes.is_datetime64_any_dtype(column.dtype):
        times = pd.to_datetime(column, utc=True)  # naive values are taken as UTC already
    elif ptypes.is_numeric_dtype(column.dtype) or ptypes.is_bool_dtype(column.dtype):
        raise InputError(
            f"time column {name!r} holds numbers ({column.dtype}), which could be seconds, "
            "milliseconds or days: cast it to TIMESTAMP in SQL (e.g. TIMESTAMP_SECONDS) or "
            "write it as ISO 8601 text."
        )
    else:
        times = _parse_text_times(column, name)
    try:
        return times.dt.tz_localize(None).astype("datetime64[ns]")
    except (OverflowError, ValueError) as error:
        raise InputError(
            f"time column {name!r} has timestamps outside 1677-2262 ({error}): fix the column."
        ) from error


def _parse_text_times(column: pd.Series, name: str) -> pd.Series:
    present = column.notna() & ~column.map(_is_blank).astype(bool)
    attempts = []
    for fmt in (None, "ISO8601"):
        with warnings.catch_warnings():
            warnings.simplefilter("ignore", UserWarning)  # "could not infer format" chatter
            parsed = pd.to_datetime(column.where(present), errors="coerce", utc=True, format=fmt)
        failed = present & parsed.isna()
        if not failed.any():
            return parsed
        attempts.append(failed)
    failed = min(attempts, key=lambda f: int(f.sum()))
    first = column[present].iloc[0]
    guessed = _guess_format(first)
    raise InputError(
        f"time column {name!r}: {int(failed.sum())} of {int(present.sum())} values do not parse "
        f"as timestamps (format inferred from the first value {first!r}: {guessed}), "
        f"e.g. {_examples(column[failed])}. Write one format throughout, e.g. ISO 8601 "
        "'2024-01-31 13:00:00', or cast the column to TIMESTAMP in SQL."
    )


def parse_target(column: pd.Series, name: str) -> np.ndarray:
    """float64 values of the target column, NaN where NULL; refuses text that is no number."""
    if ptypes.is_bool_dtype(column.dtype) or (
        ptypes.is_numeric_dtype(column.dtype) and not ptypes.is_complex_dtype(column.dtype)
    ):
        values = column.to_numpy(dtype=np.float64, na_value=np.nan)
    elif ptypes.is_string_dtype(column.dtype) or ptypes.is_object_dtype(column.dtype):
        numbers = pd.to_numeric(column, errors="coerce")
        missing = column.isna() | column.map(_is_missing_text).astype(bool)
        failed = ~missing & numbers.isna()
        if failed.any():
            raise InputError(
                f"target column {name!r}: {int(failed.sum())} of {len(column)} values are not "
                f"numbers, e.g. {_examples(column[failed])}: cast the column to FLOAT64 in SQL "
                "or clean the source."
            )
        values = numbers.to_numpy(dtype=np.float64, na_value=np.nan)
    else:
        raise InputError(
            f"target column {name!r} is {column.dtype}, not numeric: pick a numeric column "
            "or cast it to FLOAT64 in SQL."
        )
    infinite = np.isinf(values) | (np.isfinite(values) & np.isinf(values.astype(np.float32)))
    if infinite.any():
        raise InputError(
            f"target column {name!r} has {int(infinite.sum())} infinite values (or values "
            "beyond float32), e.g. "
            f"{_examples(column[infinite])}: filter or clip them in SQL."
        )
    return values


def infer_frequency(observed: pd.DatetimeIndex, name: str) -> str:
    """pandas' own inference when the timestamps are complete (it knows months, weeks and
    business days), otherwise the most common step between consecutive timestamps."""
    if len(observed) < 2:
        raise InputError(
            f"time column {name!r} has {len(observed)} distinct timestamp; needs at least 2 "
            "to infer the frequency: pass `frequency` or use a longer time range."
        )
    if len(observed) >= 3:
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")  # pandas 3.1 FutureWarning about the return type
            inferred = pd.infer_freq(observed)
        if inferred is not None:
            return to_offset(inferred).freqstr
    steps = pd.Series(np.diff(observed.asi8)).value_counts()
    step = int(steps[steps == steps.max()].index.min())  # ties: the finer step
    return _alias(pd.Timedelta(step, unit="ns"))


def _alias(step: pd.Timedelta) -> str:
    """'D' / '7D' for whole days (pandas 3 would say '24h'), else the Tick alias ('h', '90min')."""
    day = pd.Timedelta(days=1)
    if step % day == pd.Timedelta(0):
        days = step // day
        return "D" if days == 1 else f"{days}D"
    return to_offset(step).freqstr


def _grid(
    observed: pd.DatetimeIndex, offset: pd.DateOffset, frequency: str, name: str
) -> pd.DatetimeIndex:
    first, last = observed[0], observed[-1]
    try:
        step = pd.Timedelta(offset)
    except (ValueError, TypeError):
        step = None  # calendar offsets (months, business days): few points, no estimate needed
    if step is not None and step > pd.Timedelta(0):
        points = (last - first) // step + 1
        if points > MAX_POINTS:
            raise InputError(
                f"time column {name!r}: at frequency {frequency!r} the range "
                f"{first.isoformat()} to {last.isoformat()} has {points} points; the limit is "
                f"{MAX_POINTS}: pass a coarser `frequency` or aggregate in SQL."
            )
    return pd.date_range(first, last, freq=offset).as_unit("ns")


def _require_column(column: str, label: str, available: list[str]) -> None:
    if column not in available:
        raise InputError(
            f"{label} {column!r} is not in the table, which has {len(available)} columns: "
            f"{', '.join(available)}. Pass one of them."
        )


def _is_blank(value: object) -> bool:
    return isinstance(value, str) and not value.strip()


def _is_missing_text(value: object) -> bool:
    return isinstance(value, str) and value.strip().lower() in MISSING_TEXT


def _guess_format(value: object) -> str:
    from pandas.tseries.api import guess_datetime_format

    fmt = guess_datetime_format(value) if isinstance(value, str) else None
    return repr(fmt) if fmt else "none recognised"


def _examples(values: pd.Series) -> str:
    return ", ".join(repr(v) for v in values.iloc[:EXAMPLES].tolist())
