"""BigQuery Standard SQL as the ingest step takes it, and its translation for DuckDB.

The ingest step runs one query written for BigQuery, either on BigQuery or,
offline, on an embedded DuckDB file that stands in for it. sqlglot parses the
query as BigQuery SQL and writes it in DuckDB's dialect; constructs it cannot
translate faithfully raise, rather than run with another meaning. Where its
translation still differs from what BigQuery documents, the syntax tree is
fixed here before generating (each fix is checked by running on DuckDB):

- `EXTRACT(DAYOFWEEK FROM x)`: BigQuery counts 1 (Sunday) to 7 (Saturday),
  DuckDB 0 to 6; one is added.
- `EXTRACT(WEEK FROM x)` / `WEEK(<weekday>)`: BigQuery numbers weeks that start
  on Sunday (or <weekday>), days before the first one in week 0; DuckDB's WEEK
  is the ISO week. Computed from the day of the year and of the week.
  `EXTRACT(ISOWEEK ...)` becomes DuckDB's WEEK (ISO); DuckDB has no ISOWEEK.
- `DATE_TRUNC(date, unit)` returns a DATE on BigQuery, a TIMESTAMP on DuckDB:
  cast back to DATE, unless the argument is known to be a TIMESTAMP or
  DATETIME or a time zone is given (BigQuery's newer DATE_TRUNC forms keep
  the argument's type). TIMESTAMP_TRUNC and DATETIME_TRUNC are left alone.
  `DATE_ADD` / `DATE_SUB` (date + INTERVAL on DuckDB) likewise.
- `NUMERIC` is DECIMAL(38, 9) on BigQuery; sqlglot writes DuckDB's DECIMAL,
  which is DECIMAL(18, 3) and would round to 3 decimals. Written as (38, 9).
- `PARSE_TIMESTAMP(format, string[, time_zone])`: sqlglot drops the time zone
  and returns DuckDB's naive TIMESTAMP. Here the parsed wall time is read in
  `time_zone` (default UTC, as on BigQuery) and the result is a TIMESTAMPTZ,
  as BigQuery returns; formats with %z / %Ez / %Z carry their own offset and
  are left to DuckDB (which does not know %Ez: it says so).
- `SAFE.f(...)`: sqlglot writes `SAFE.f`, which DuckDB cannot call. Functions
  with a safe variant (e.g. SAFE.PARSE_TIMESTAMP -> TRY_STRPTIME) use it; any
  other SAFE. call is refused with an InputError.
- `EXTRACT(... FROM <TIMESTAMP literal or cast>)`: sqlglot refuses it because
  DuckDB would use the session time zone; the value is converted to UTC first,
  as BigQuery does. (DuckDBEngine also runs every query with TimeZone=UTC.)
- Table names: BigQuery's `project.dataset.table` becomes `dataset.table`.
  The local database holds one DuckDB schema per BigQuery dataset, and the
  project part is dropped, so the same query runs in any project.

Known differences that are not handled (the query runs, with DuckDB's meaning):

- `DATE_TRUNC` / `DATE_ADD` / `DATE_SUB` on a TIMESTAMP or DATETIME *column*
  come back as DATE: the transpiler does not know column types, so only
  literals and casts are recognised as timestamps. Use TIMESTAMP_TRUNC /
  DATETIME_TRUNC (and _ADD / _SUB) for those, as BigQuery's reference does.
- `x / 0` is an error on BigQuery and +-inf (NaN for 0 / 0) on DuckDB.
- `SUBSTR(s, 0, n)`: BigQuery treats position 0 as 1; DuckDB returns one
  character fewer.
- Numeric literals such as `2.5` are FLOAT64 on BigQuery and DECIMAL on
  DuckDB, so e.g. `ROUND(2.5)` comes back as a decimal column, not a float.
- `FORMAT('%d', x)`: DuckDB's FORMAT takes {} placeholders and returns the
  %-format unchanged; use CAST(x AS STRING) or FORMAT_DATE / FORMAT_TIMESTAMP.
- BIGNUMERIC becomes DECIMAL(38, 5) (DuckDB's widest decimal is 38 digits).
- `PARSE_TIMESTAMP` with a format that is not a string literal is left as
  sqlglot writes it: a naive TIMESTAMP (the wall time as parsed), and a time
  zone argument is ignored.
- Wildcard tables (`dataset.prefix_*`, `_TABLE_SUFFIX`) and INFORMATION_SCHEMA
  views do not exist locally; DuckDB reports the table as missing.
"""

from __future__ import annotations

import re

import sqlglot
from sqlglot import exp
from sqlglot.errors import ErrorLevel, ParseError, TokenError, UnsupportedError

from serving.contracts.errors import InputError

# Statements that change data, schemas or the session, or run commands.
_WRITES = (
    exp.Insert, exp.Update, exp.Delete, exp.Merge, exp.Create, exp.Drop, exp.Alter,
    exp.TruncateTable, exp.Command, exp.Set, exp.Copy, exp.Transaction, exp.Commit,
    exp.Rollback, exp.Use, exp.Cache, exp.Uncache, exp.Pragma, exp.LoadData,
)  # fmt: skip
EXAMPLE = "e.g. `my-project.weather.hourly` or SELECT ts, temp FROM `my-project.weather.hourly`"
_WEEKDAYS = ("SUNDAY", "MONDAY", "TUESDAY", "WEDNESDAY", "THURSDAY", "FRIDAY", "SATURDAY")
# BigQuery names: project ids (optionally domain-scoped, "example.com:proj"), dataset ids
# (letters, digits, underscores) and table ids (also dashes).
_PROJECT = re.compile(r"^(?:[a-z][a-z0-9.-]*:)?[a-z][a-z0-9-]*$", re.IGNORECASE)
_DATASET = re.compile(r"^\w+$")
_TABLE = re.compile(r"^[\w-]+$")
_OFFSET_FORMAT = re.compile(r"%E?[zZ]")
_TOKEN = re.compile(r"<Token token_type: [^,]+, text: (.*?), line: \d+.*?>")


def query_for(source: str) -> str:
    """The SQL to run for `source`: a query as given, or SELECT * of a table reference.

    A table reference is `project.dataset.table` or `dataset.table`, whole or in
    part backquoted. Anything without whitespace is taken for one (a query has
    some), so a malformed reference is refused here rather than as bad SQL.
    """
    if not source or not source.strip():
        raise InputError(f"The source query is empty: give a query or a table, {EXAMPLE}.")
    text = source.strip()
    if any(c.isspace() for c in text):
        return text
    parts = _reference_parts(text)
    if parts is None:
        raise InputError(
            f"Source {source!r} is neither a query nor a table reference: give "
            f"project.dataset.table, dataset.table or a SELECT query, {EXAMPLE}."
        )
    return f"SELECT * FROM `{'.'.join(parts)}`"


def _reference_parts(text: str) -> list[str] | None:
    """[project,] dataset, table of a table reference, or None if it is not one."""
    if text.count("`") % 2:
        return None
    parts = text.replace("`", "").rsplit(".", 2)
    if len(parts) < 2 or not all(parts):
        return None
    if len(parts) == 3 and not _PROJECT.match(parts[0]):
        return None
    if not (_DATASET.match(parts[-2]) and _TABLE.match(parts[-1])):
        return None
    return parts


def show_query(sql: str) -> str:
    """The query as it appears in error messages: on its own lines, indented."""
    return "\n".join(f"    {line}" for line in sql.strip().splitlines())


def read_only_query(sql: str) -> exp.Query:
    """The parse tree of `sql` if it is one query that only reads; else InputError.

    The one check both engines run before anything is sent: a local run against
    BigQuery uses the user's own credentials, so a DROP, DELETE, MERGE or a
    multi-statement script must never reach it. It reads sqlglot's parse tree
    (BigQuery dialect), not the text: a statement that is not a query, or a query
    holding a write or a command anywhere inside, is refused.
    """
    if not sql or not sql.strip():
        raise InputError(f"The query is empty: give a BigQuery SELECT query, {EXAMPLE}.")
    try:
        statements = [s for s in sqlglot.parse(sql, read="bigquery") if s is not None]
    except (ParseError, TokenError) as exc:
        raise InputError(
            f"Syntax error in the BigQuery SQL query: {_parser_message(exc)}\n"
            f"Query:\n{show_query(sql)}"
        ) from None
    if len(statements) != 1 or not isinstance(statements[0], exp.Query):
        kinds = ", ".join(type(s).__name__.upper() for s in statements) or "nothing"
        raise InputError(
            f"The source must be one query that returns rows (a SELECT), got {kinds}.\n"
            f"Query:\n{show_query(sql)}"
        )
    writes = sorted({type(node).__name__.upper() for node in statements[0].find_all(*_WRITES)})
    if writes:
        raise InputError(
            f"The query may only read, but it holds {', '.join(writes)}: give a SELECT that "
            f"reads the data.\nQuery:\n{show_query(sql)}"
        )
    return statements[0]


def to_duckdb(sql: str) -> str:
    """`sql` (one BigQuery Standard SQL query that only reads) written for DuckDB.

    Raises InputError for what `read_only_query` refuses, and for constructs
    sqlglot cannot translate for DuckDB.
    """
    statement = read_only_query(sql)
    tree = _localize(statement)
    try:
        return tree.sql(dialect="duckdb", unsupported_level=ErrorLevel.RAISE)
    except UnsupportedError as exc:
        raise InputError(
            f"The query uses BigQuery SQL that cannot run the same way on the local DuckDB "
            f"database: {str(exc).strip().rstrip('.')}. Rewrite that part, or run on BigQuery."
            f"\nQuery:\n{show_query(sql)}"
        ) from None


def _parser_message(exc: ParseError | TokenError) -> str:
    if isinstance(exc, ParseError) and exc.errors:
        error = exc.errors[0]
        description = _TOKEN.sub(lambda m: repr(m.group(1)), error["description"])
        return f"{description} (line {error['line']}, column {error['col']})"
    return str(exc)


def _localize(tree: exp.Expr) -> exp.Expr:
    """Apply the dialect fixes of the module docstring to `tree` (modified in place)."""
    for table in tree.find_all(exp.Table):
        if table.args.get("catalog"):
            table.set("catalog", None)
    for safe in reversed(list(tree.find_all(exp.SafeFunc))):
        _unwrap_safe(safe)
    for parse in list(tree.find_all(exp.StrToTime)):
        _parse_timestamp_in_zone(parse)
    for date_function in list(tree.find_all(exp.DateTrunc, exp.DateAdd, exp.DateSub)):
        _keep_date(date_function)
    for numeric in list(tree.find_all(exp.DataType)):
        if numeric.this == exp.DType.DECIMAL and not numeric.expressions:
            numeric.replace(exp.DataType.build("DECIMAL(38, 9)"))
    # Innermost first, so an outer EXTRACT copies an already fixed argument.
    for extract in reversed(list(tree.find_all(exp.Extract, bfs=False))):
        _bigquery_extract(extract)
    return tree


def _unwrap_safe(safe: exp.SafeFunc) -> None:
    func = safe.this
    if "safe" not in type(func).arg_types:
        name = func.sql(dialect="bigquery").split("(", 1)[0]
        raise InputError(
            f"SAFE.{name}(...) has no equivalent on the local DuckDB database: call {name} "
            "without SAFE. (errors then stop the query), or run on BigQuery."
        )
    func.set("safe", True)
    safe.replace(func)


def _parse_timestamp_in_zone(parse: exp.StrToTime) -> None:
    fmt = parse.args.get("format")
    if not (isinstance(fmt, exp.Literal) and fmt.is_string) or _OFFSET_FORMAT.search(fmt.this):
        return
    zone = parse.args.get("zone") or exp.Literal.string("UTC")
    parse.set("zone", None)
    parse.replace(exp.AtTimeZone(this=parse.copy(), zone=zone))


def _keep_date(function: exp.DateTrunc | exp.DateAdd | exp.DateSub) -> None:
    if function.args.get("zone") or function.this.is_type(
        exp.DType.TIMESTAMP, exp.DType.TIMESTAMPTZ, exp.DType.DATETIME
    ):
        return
    function.replace(exp.cast(function.copy(), exp.DType.DATE))


def _bigquery_extract(extract: exp.Extract) -> None:
    value = extract.expression
    if value.is_type(exp.DType.TIMESTAMPTZ, exp.DType.TIMESTAMPLTZ):
        value = exp.AtTimeZone(this=value.copy(), zone=exp.Literal.string("UTC"))
        extract.set("expression", value)
    part = extract.this
    name = part.this.name.upper() if isinstance(part, exp.WeekStart) else part.name.upper()
    if name == "DAYOFWEEK":
        extract.replace(exp.Paren(this=exp.Add(this=extract.copy(), expression=_number(1))))
    elif name == "ISOWEEK":
        extract.set("this", exp.var("WEEK"))
    elif name == "WEEK" or (isinstance(part, exp.WeekStart) and name in _WEEKDAYS):
        start = 0 if name == "WEEK" else _WEEKDAYS.index(name)
        extract.replace(_week_number(value, start))


def _week_number(value: exp.Expr, start: int) -> exp.Expr:
    """BigQuery's WEEK(<weekday>): (day of year + 6 - days since the week began) // 7."""
    day_of_year = exp.Extract(this=exp.var("DAYOFYEAR"), expression=value.copy())
    day_of_week = exp.Extract(this=exp.var("DAYOFWEEK"), expression=value.copy())  # 0 = Sunday
    since_start = exp.Mod(
        this=exp.Paren(this=exp.Add(this=day_of_week, expression=_number(7 - start))),
        expression=_number(7),
    )
    numerator = exp.Sub(
        this=exp.Add(this=day_of_year, expression=_number(6)),
        expression=exp.Paren(this=since_start),
    )
    return exp.IntDiv(this=exp.Paren(this=numerator), expression=_number(7))


def _number(value: int) -> exp.Literal:
    return exp.Literal.number(value)
