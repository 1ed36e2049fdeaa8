"""The peers' outputs-to-JSON (benchmark 9): one dict per instance, bytes as text.

Imported by kserve_server.py and bentoml_service.py, each in its own venv with
tests/bench on its path, so it imports nothing but the standard library.
"""

from __future__ import annotations


def per_instance(outputs: dict, count: int) -> list[dict]:
    """A signature's outputs (name -> tensor with `count` rows) as one dict per instance."""
    columns = {name: value.numpy().tolist() for name, value in outputs.items()}
    return [{name: _plain(column[i]) for name, column in columns.items()} for i in range(count)]


def _plain(value: object) -> object:
    if isinstance(value, bytes):
        return value.decode("utf-8", "replace")
    if isinstance(value, list):
        return [_plain(v) for v in value]
    return value
