"""What the BigQuery emulator runs: the job configurations it refuses, the tables a query reads.

A job is refused (400, saying what is served) unless it is one read-only
GoogleSQL query; the tables it reads must exist in the warehouse, else the job
fails with notFound, named as BigQuery names the dataset or table.
"""

from __future__ import annotations

from pipelines.emulator.bigquery.errors import ApiError, invalid_query, unsupported


def check_configuration(configuration: dict) -> str:
    """The SQL of a query job configuration; ApiError for what the emulator does not run."""
    import sqlglot
    from sqlglot import exp
    from sqlglot.errors import ParseError, TokenError

    other = [kind for kind in ("load", "copy", "extract") if kind in configuration]
    if other or "query" not in configuration:
        raise unsupported(f"a {(other or ['non-query'])[0]} job")
    query = configuration["query"]
    if query.get("useLegacySql", True):
        raise unsupported("legacy SQL (set useLegacySql to false: the default is legacy SQL)")
    for option in ("destinationTable", "tableDefinitions", "scriptOptions", "createSession"):
        if query.get(option):
            raise unsupported(f"configuration.query.{option}")
    sql = query.get("query") or ""
    if not sql.strip():
        raise ApiError(400, "invalid", "Required parameter is missing: query")
    try:
        statements = [s for s in sqlglot.parse(sql, read="bigquery") if s is not None]
    except (ParseError, TokenError):
        return sql  # the job fails with the parser's message
    if len(statements) != 1 or not isinstance(statements[0], exp.Query):
        kinds = ", ".join(type(s).__name__.upper() for s in statements)
        raise unsupported(f"{kinds} (DML, DDL and multi-statement scripts)")
    return sql


def table_references(sql: str, default_dataset: str) -> list[tuple[str, str, str]]:
    """(project, dataset, table) of each table the query reads, CTEs excluded."""
    import sqlglot
    from sqlglot import exp

    tree = sqlglot.parse_one(sql, read="bigquery")
    ctes = {cte.alias_or_name.lower() for cte in tree.find_all(exp.CTE)}
    references = []
    for table in tree.find_all(exp.Table):
        if not isinstance(table.this, exp.Identifier):
            continue  # a table function
        if not table.db:
            if table.name.lower() in ctes:
                continue
            if not default_dataset:
                raise invalid_query(
                    f'Table "{table.name}" must be qualified with a dataset (e.g. dataset.table).'
                )
        references.append((table.catalog, table.db or default_dataset, table.name))
    return references


def check_tables(connection, references: list, project: str, location: str) -> None:
    """notFound, named as BigQuery names it, for the first dataset or table that is missing."""
    schemas = {
        s.lower() for (s,) in connection.sql("SELECT schema_name FROM duckdb_schemas()").fetchall()
    }
    tables = {
        (s.lower(), t.lower())
        for s, t in connection.sql(
            "SELECT table_schema, table_name FROM information_schema.tables"
        ).fetchall()
    }
    for table_project, dataset, table in references:
        where = f"{table_project or project}:{dataset}"
        if dataset.lower() == "information_schema":
            continue
        if dataset.lower() not in schemas:
            raise ApiError(
                404, "notFound", f"Not found: Dataset {where} was not found in location {location}"
            )
        if (dataset.lower(), table.lower()) not in tables:
            raise ApiError(
                404,
                "notFound",
                f"Not found: Table {where}.{table} was not found in location {location}",
            )
