"""The `filter` and `order_by` of Vertex AI list calls, for the forms clients send.

Supported: `field="value"` terms joined by AND (display_name, labels.KEY,
state), and order_by one or more of create_time, update_time, display_name,
each optionally `desc`. Anything else is refused by name, not ignored.
"""

from __future__ import annotations

import re
from collections.abc import Iterable
from typing import Any

from pipelines.emulator.vertex.validation import invalid

_TERM = re.compile(r'^\s*([a-zA-Z_][a-zA-Z0-9_.]*)\s*=\s*"([^"]*)"\s*$')
_CAMEL = {"displayName": "display_name", "createTime": "create_time", "updateTime": "update_time"}
_ORDER_FIELDS = {"create_time", "update_time", "display_name"}


def matching(resources: Iterable[Any], filter_text: str, order_by: str) -> list[Any]:
    terms = [_term(t) for t in re.split(r"\s+AND\s+", filter_text.strip()) if t.strip()]
    chosen = [r for r in resources if all(_value(r, field) == value for field, value in terms)]
    for field, descending in reversed(_order(order_by)):
        chosen.sort(key=lambda r, f=field: str(getattr(r, f)), reverse=descending)
    return chosen


def _term(text: str) -> tuple[str, str]:
    match = _TERM.match(text)
    if not match:
        raise invalid(f'Unsupported filter {text!r}: the emulator supports field="value" terms.')
    return _CAMEL.get(match.group(1), match.group(1)), match.group(2)


def _value(resource: Any, field: str) -> str:
    if field.startswith("labels."):
        return resource.labels.get(field[len("labels.") :], None)
    if field == "state":
        return resource.state.name
    if field not in ("display_name", "name"):
        raise invalid(f"Unsupported filter field {field!r}: use display_name or labels.KEY.")
    return getattr(resource, field)


def _order(order_by: str) -> list[tuple[str, bool]]:
    keys = []
    for part in filter(None, (p.strip() for p in order_by.split(","))):
        field, _, direction = part.partition(" ")
        field = _CAMEL.get(field, field)
        if field not in _ORDER_FIELDS or direction.strip() not in ("", "desc", "asc"):
            raise invalid(f"Unsupported order_by {part!r}: use {', '.join(sorted(_ORDER_FIELDS))}.")
        keys.append((field, direction.strip() == "desc"))
    return keys
