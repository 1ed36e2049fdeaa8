"""DuckDB query results as BigQuery's schema and JSON cells; query parameters for DuckDB.

The BigQuery emulator (pipelines.emulator.bigquery) answers with BigQuery's REST
types (INTEGER, FLOAT, NUMERIC, BIGNUMERIC, BOOLEAN, STRING, BYTES, DATE,
DATETIME, TIME, TIMESTAMP, JSON; lists as REPEATED, structs as RECORD), mapped
from the DuckDB column types rather than from Arrow's, so that DuckDB's HUGEINT
sums come back as INT64, as BigQuery's SUM does. Cells are encoded as BigQuery's
JSON carries them: every scalar a string, NULL as null, FLOAT's NaN / Infinity
by name, BYTES in base64, TIMESTAMP as int64 microseconds when asked for
(formatOptions.useInt64Timestamp, as the client always does) else seconds.
What BigQuery cannot return (an array of arrays, an INT64 overflow, a NULL in
an array, a DuckDB-only type) is an Unrepresentable error with BigQuery's words.
"""

from __future__ import annotations

import base64
import datetime as dt
import decimal
from collections.abc import Callable
from typing import Any

import pyarrow as pa
import pyarrow.compute as pc

_INT64 = (-(2**63), 2**63 - 1)
_EPOCH = dt.datetime(1970, 1, 1, tzinfo=dt.UTC)

_SCALAR_TYPES = {
    "boolean": "BOOLEAN",
    "tinyint": "INTEGER",
    "smallint": "INTEGER",
    "integer": "INTEGER",
    "bigint": "INTEGER",
    "utinyint": "INTEGER",
    "usmallint": "INTEGER",
    "uinteger": "INTEGER",
    "ubigint": "INTEGER",
    "hugeint": "INTEGER",
    "uhugeint": "INTEGER",
    "null": "INTEGER",  # an untyped NULL is INT64 on BigQuery too
    "float": "FLOAT",
    "double": "FLOAT",
    "varchar": "STRING",
    "uuid": "STRING",
    "enum": "STRING",
    "blob": "BYTES",
    "date": "DATE",
    "time": "TIME",
    "timestamp": "DATETIME",
    "timestamp_s": "DATETIME",
    "timestamp_ms": "DATETIME",
    "timestamp_ns": "DATETIME",
    "timestamp with time zone": "TIMESTAMP",
}
_WIDE_INTEGERS = ("ubigint", "hugeint", "uhugeint")  # checked against INT64's range


class Unrepresentable(ValueError):
    """A result or parameter that has no BigQuery form; the message says which and why."""


# DuckDB types -> BigQuery schema, and cells -> BigQuery JSON


def fields(relation) -> list[dict]:
    """The BigQuery schema fields of a DuckDB relation's columns."""
    names = [name.lower() for name in relation.columns]
    duplicates = sorted({name for name in relation.columns if names.count(name.lower()) > 1})
    if duplicates:
        raise Unrepresentable(
            "Duplicate column names in the result are not supported. Found duplicate(s): "
            + ", ".join(duplicates)
        )
    return [_field(name, kind) for name, kind in zip(relation.columns, relation.types, strict=True)]


def _field(name: str, kind) -> dict:
    """The BigQuery schema field for a DuckDB column type (REST names: INTEGER, FLOAT...)."""
    type_id = kind.id
    if type_id in ("list", "array"):
        element = _field(name, dict(kind.children)["child"])
        if element["mode"] == "REPEATED":
            raise Unrepresentable(
                f"Cannot return an array of arrays (column {name}, DuckDB type {kind}): "
                "BigQuery has no such type."
            )
        return {**element, "mode": "REPEATED"}
    if type_id == "struct":
        members = [_field(child, child_kind) for child, child_kind in kind.children]
        return {"name": name, "type": "RECORD", "mode": "NULLABLE", "fields": members}
    if type_id == "decimal":
        size = dict(kind.children)
        precision, scale = size["precision"], size["scale"]
        numeric = "NUMERIC" if scale <= 9 and precision - scale <= 29 else "BIGNUMERIC"
        return {"name": name, "type": numeric, "mode": "NULLABLE"}
    if str(kind) == "JSON":
        return {"name": name, "type": "JSON", "mode": "NULLABLE"}
    if type_id not in _SCALAR_TYPES:
        raise Unrepresentable(
            f"Column {name} has DuckDB type {kind}, which the BigQuery emulator cannot return "
            "as a BigQuery type: cast it (e.g. to STRING) in the query."
        )
    return {"name": name, "type": _SCALAR_TYPES[type_id], "mode": "NULLABLE"}


def check_values(table: pa.Table, schema: list[dict], kinds: list) -> None:
    """BigQuery's errors for values it cannot return: INT64 overflow, NULL array elements."""
    for column, field_, kind in zip(table.columns, schema, kinds, strict=True):
        name = field_["name"]
        if kind.id in _WIDE_INTEGERS and column.null_count < len(column):
            bounds = pc.min_max(column)
            low, high = int(bounds["min"].as_py()), int(bounds["max"].as_py())
            if low < _INT64[0] or high > _INT64[1]:
                raise Unrepresentable(
                    f"int64 overflow: column {name} holds {high if high > _INT64[1] else low}"
                )
        if field_["mode"] == "REPEATED" and pc.list_flatten(column).null_count:
            raise Unrepresentable(
                f"Array cannot have a null element; error in writing field {name}"
            )


def microseconds(table: pa.Table) -> pa.Table:
    """Top-level timestamps in microseconds, BigQuery's precision (nanoseconds truncated)."""
    for index, column_field in enumerate(table.schema):
        kind = column_field.type
        if pa.types.is_timestamp(kind) and kind.unit != "us":
            column = table.column(index).cast(pa.timestamp("us", kind.tz), safe=False)
            table = table.set_column(index, column_field.with_type(column.type), column)
    return table


def cell(value: Any, field_: dict, int64_timestamps: bool) -> Any:
    """One value of a row as BigQuery's JSON carries it in {"v": ...}."""
    if field_["mode"] == "REPEATED":
        return [{"v": _scalar(v, field_, int64_timestamps)} for v in value or []]
    return _scalar(value, field_, int64_timestamps)


def _scalar(value: Any, field_: dict, int64_timestamps: bool) -> Any:
    if value is None:
        return None
    kind = field_["type"]
    if kind == "RECORD":
        return {
            "f": [{"v": cell(value.get(f["name"]), f, int64_timestamps)} for f in field_["fields"]]
        }
    if kind == "BOOLEAN":
        return "true" if value else "false"
    if kind == "INTEGER":
        return str(int(value))
    if kind == "FLOAT":
        if value != value:
            return "NaN"
        if value in (float("inf"), float("-inf")):
            return "Infinity" if value > 0 else "-Infinity"
        return repr(float(value))
    if kind in ("NUMERIC", "BIGNUMERIC"):
        text = format(value, "f")
        return text.rstrip("0").rstrip(".") if "." in text else text
    if kind == "BYTES":
        return base64.standard_b64encode(value).decode()
    if kind == "TIMESTAMP":
        micros = (_aware(value) - _EPOCH) // dt.timedelta(microseconds=1)
        return str(micros) if int64_timestamps else format(decimal.Decimal(micros).scaleb(-6), "f")
    if kind in ("DATE", "DATETIME", "TIME"):
        return value.isoformat()
    return str(value)


# Query parameters -> Python values


def parameters(query_config: dict) -> dict | list | None:
    """The query parameters as Python values for DuckDB ($name or ? in the transpiled SQL)."""
    given = query_config.get("queryParameters") or []
    if not given:
        return None
    values = [
        _parameter_value(p.get("parameterType") or {}, p.get("parameterValue") or {}) for p in given
    ]
    if query_config.get("parameterMode", "").upper() == "POSITIONAL":
        return values
    return {p.get("name", ""): value for p, value in zip(given, values, strict=True)}


_PARAMETER_PARSERS: dict[str, Callable[[str], Any]] = {
    "INT64": int,
    "INTEGER": int,
    "FLOAT64": float,
    "FLOAT": float,
    "NUMERIC": decimal.Decimal,
    "BIGNUMERIC": decimal.Decimal,
    "BOOL": lambda v: v.lower() == "true",
    "BOOLEAN": lambda v: v.lower() == "true",
    "STRING": str,
    "BYTES": base64.standard_b64decode,
    "DATE": dt.date.fromisoformat,
    "DATETIME": dt.datetime.fromisoformat,
    "TIME": dt.time.fromisoformat,
    "TIMESTAMP": lambda v: _aware(dt.datetime.fromisoformat(v.replace(" UTC", "+00:00"))),
}


def _parameter_value(kind: dict, value: dict) -> Any:
    name = kind.get("type", "").upper()
    if name == "ARRAY":
        element = kind.get("arrayType") or {}
        return [_parameter_value(element, v) for v in value.get("arrayValues") or []]
    if name not in _PARAMETER_PARSERS:
        raise Unrepresentable(
            f"The BigQuery emulator does not take query parameters of type {name or '(none)'}."
        )
    text = value.get("value")
    return None if text is None else _PARAMETER_PARSERS[name](text)


def _aware(value: dt.datetime) -> dt.datetime:
    return value if value.tzinfo else value.replace(tzinfo=dt.UTC)
