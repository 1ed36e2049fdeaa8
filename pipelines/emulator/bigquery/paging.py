"""The query parameters of BigQuery's list calls: pages, numbers, flags and partial responses."""

from __future__ import annotations

import base64
import re

from pipelines.emulator.bigquery.errors import ApiError


def page_start(query: dict, total: int | None) -> int:
    """The first row asked for: pageToken's, else startIndex (0); ApiError past the end."""
    if "pageToken" in query:
        try:
            start = int(base64.urlsafe_b64decode(query["pageToken"].encode()).decode())
        except ValueError:
            raise ApiError(400, "invalid", f"Invalid page token: {query['pageToken']!r}") from None
    else:
        start = number(query, "startIndex", 0)
    if start < 0 or (total is not None and start > total):
        raise ApiError(400, "invalid", f"Invalid startIndex {start}: the result has {total} rows")
    return start


def page_count(query: dict, page_rows: int) -> int:
    """Rows in the page asked for: maxResults, at most page_rows (negative: page_rows)."""
    count = number(query, "maxResults", page_rows)
    return page_rows if count < 0 else min(count, page_rows)


def page_token(start: int) -> str:
    return base64.urlsafe_b64encode(str(start).encode()).decode()


def number(query: dict, name: str, default: int | float) -> int:
    try:
        return int(query.get(name, default))
    except ValueError:
        raise ApiError(400, "invalid", f"Invalid value for {name}: {query[name]!r}") from None


def flag(query: dict, name: str) -> bool:
    return str(query.get(name, "")).lower() in ("true", "1")


def partial_response(response: dict, fields: str | None) -> dict:
    """A partial response with the top-level keys named in `fields` (e.g. "rows,pageToken")."""
    if not fields:
        return response
    wanted = {re.split(r"[/(]", name.strip(), maxsplit=1)[0] for name in fields.split(",")}
    return {key: value for key, value in response.items() if key in wanted}
