"""infra/terraform parsed with python-hcl2, for static checks that need no provider.

Strings come back unquoted and `${...}` wraps expressions, e.g. a reference is
"${google_service_account.pipelines.member}".
"""

from __future__ import annotations

import re
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import hcl2
from hcl2.utils import SerializationOptions

from tests.conftest import REPO

TF_DIR = REPO / "infra" / "terraform"

_OPTIONS = SerializationOptions(
    with_comments=False,
    explicit_blocks=False,
    strip_string_quotes=True,
    preserve_heredocs=False,
)


def load(path: Path) -> dict[str, Any]:
    with path.open() as f:
        return hcl2.load(f, serialization_options=_OPTIONS)


def tf_files() -> list[Path]:
    return sorted(TF_DIR.glob("*.tf"))


class Config:
    """Every .tf file of the module, merged the way Terraform merges them."""

    def __init__(self, directory: Path = TF_DIR) -> None:
        self.files = {p.name: load(p) for p in sorted(directory.glob("*.tf"))}

    def _blocks(self, kind: str) -> Iterator[dict[str, Any]]:
        for parsed in self.files.values():
            yield from parsed.get(kind, [])

    def resources(self, rtype: str) -> dict[str, dict[str, Any]]:
        found: dict[str, dict[str, Any]] = {}
        for block in self._blocks("resource"):
            for name, body in block.get(rtype, {}).items():
                assert name not in found, f"{rtype}.{name} is declared twice"
                found[name] = body
        return found

    def resource_addresses(self) -> set[str]:
        return {
            f"{rtype}.{name}"
            for block in self._blocks("resource")
            for rtype, named in block.items()
            for name in named
        }

    def named(self, kind: str) -> dict[str, dict[str, Any]]:
        """variable or output blocks by name; a name declared twice fails."""
        found: dict[str, dict[str, Any]] = {}
        for block in self._blocks(kind):
            for name, body in block.items():
                assert name not in found, f"{kind} {name!r} is declared twice"
                found[name] = body
        return found

    def locals(self) -> dict[str, Any]:
        found: dict[str, Any] = {}
        for block in self._blocks("locals"):
            for name, value in block.items():
                assert name not in found, f"local {name!r} is defined twice"
                found[name] = value
        return found

    def terraform_block(self) -> dict[str, Any]:
        blocks = list(self._blocks("terraform"))
        assert len(blocks) == 1, "exactly one terraform {} block"
        return blocks[0]

    def strings(self, skip_kinds: tuple[str, ...] = ()) -> Iterator[str]:
        """Every string value in the module (expressions included), except in skip_kinds."""
        for parsed in self.files.values():
            for kind, blocks in parsed.items():
                if kind not in skip_kinds:
                    yield from _walk_strings(blocks)


def _walk_strings(value: Any) -> Iterator[str]:
    if isinstance(value, str):
        yield value
    elif isinstance(value, dict):
        for item in value.values():
            yield from _walk_strings(item)
    elif isinstance(value, list):
        for item in value:
            yield from _walk_strings(item)


def references(strings: Iterator[str], prefix: str) -> set[str]:
    """Names referenced as `prefix.NAME` (var, local) in the given strings."""
    pattern = re.compile(rf"\b{re.escape(prefix)}\.([A-Za-z_][A-Za-z0-9_-]*)")
    return {m for s in strings for m in pattern.findall(s)}


def block(body: dict[str, Any], name: str) -> dict[str, Any]:
    """The single nested block `name` of a resource body (hcl2 gives a list)."""
    blocks = body.get(name)
    assert isinstance(blocks, list) and len(blocks) == 1, f"expected one {name} block"
    return blocks[0]
