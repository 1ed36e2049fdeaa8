"""The project's import graph, read from the source with `ast` (nothing is imported).

Every import statement counts, wherever it is: at module level, inside a function, under
`if TYPE_CHECKING:` (a lazy import is still a dependency). Relative imports are resolved,
and each import is mapped to the project module it means: `import a.b.c` and
`from a.b import c` mean the module `a.b.c` when `a/b/c.py` (or `a/b/c/__init__.py`)
exists, else the package `a.b` (its `__init__.py`).
"""

from __future__ import annotations

import ast
import subprocess
from collections.abc import Iterable, Iterator
from dataclasses import dataclass
from pathlib import Path

REPO = Path(__file__).resolve().parent.parent
PROJECT_PACKAGES = ("pipelines", "components", "trainer", "serving")


@dataclass(frozen=True)
class Import:
    """One imported name: `importer` (a project module) imports `name` at `path:line`."""

    importer: str
    path: str  # the importer's file, relative to the root
    line: int
    name: str  # the absolute dotted name imported (a module, or a name in one)
    module: str | None  # the project module `name` means; None outside the project

    def __str__(self) -> str:
        return f"{self.path}:{self.line}: {self.importer} imports {self.name}"


def module_name(relative: Path) -> str:
    """`trainer/vision/model.py` -> `trainer.vision.model`; `a/b/__init__.py` -> `a.b`."""
    parts = list(relative.with_suffix("").parts)
    if parts[-1] == "__init__":
        parts.pop()
    return ".".join(parts)


def project_modules(root: Path = REPO) -> dict[str, Path]:
    """Every module of the project packages under `root`: dotted name -> path from root."""
    modules: dict[str, Path] = {}
    for package in PROJECT_PACKAGES:
        for path in sorted((root / package).rglob("*.py")):
            relative = path.relative_to(root)
            modules[module_name(relative)] = relative
    return modules


def _is_package(relative: Path) -> bool:
    return relative.name == "__init__.py"


def _absolute(node: ast.ImportFrom, importer: str, is_package: bool) -> str:
    """The absolute module a `from ... import` reads from, its dots resolved."""
    if not node.level:
        return node.module or ""
    package = importer.split(".") if is_package else importer.split(".")[:-1]
    base = package[: len(package) - (node.level - 1)]
    return ".".join([*base, node.module] if node.module else base)


def _project_module(name: str, modules: dict[str, Path]) -> str | None:
    """The longest prefix of `name` that is a project module, if any."""
    parts = name.split(".")
    while parts:
        candidate = ".".join(parts)
        if candidate in modules:
            return candidate
        parts.pop()
    return None


def _imported_names(tree: ast.AST, importer: str, is_package: bool) -> Iterator[tuple[str, int]]:
    for node in ast.walk(tree):
        if isinstance(node, ast.Import):
            for alias in node.names:
                yield alias.name, node.lineno
        elif isinstance(node, ast.ImportFrom):
            base = _absolute(node, importer, is_package)
            for alias in node.names:
                if alias.name == "*":
                    yield base, node.lineno
                else:
                    yield f"{base}.{alias.name}" if base else alias.name, node.lineno


def imports(root: Path = REPO) -> list[Import]:
    """Every import of every project module under `root`, in file and line order."""
    modules = project_modules(root)
    found: list[Import] = []
    for importer, relative in modules.items():
        tree = ast.parse((root / relative).read_text(encoding="utf-8"), filename=str(relative))
        for name, line in _imported_names(tree, importer, _is_package(relative)):
            module = _project_module(name, modules)
            if module == importer:  # `from . import x` of a package's own names
                continue
            found.append(Import(importer, relative.as_posix(), line, name, module))
    return sorted(found, key=lambda i: (i.path, i.line, i.name))


def graph(found: Iterable[Import]) -> dict[str, set[str]]:
    """Project module -> the project modules it imports."""
    edges: dict[str, set[str]] = {}
    for imp in found:
        edges.setdefault(imp.importer, set())
        if imp.module is not None:
            edges[imp.importer].add(imp.module)
            edges.setdefault(imp.module, set())
    return edges


def strongly_connected(edges: dict[str, set[str]]) -> list[list[str]]:
    """Tarjan's strongly connected components of more than one module, each sorted."""
    index: dict[str, int] = {}
    low: dict[str, int] = {}
    stack: list[str] = []
    on_stack: set[str] = set()
    components: list[list[str]] = []

    def visit(start: str) -> None:
        # Iterative, so a long import chain cannot reach Python's recursion limit.
        work = [(start, iter(sorted(edges[start])))]
        index[start] = low[start] = len(index)
        stack.append(start)
        on_stack.add(start)
        while work:
            node, successors = work[-1]
            for successor in successors:
                if successor not in index:
                    index[successor] = low[successor] = len(index)
                    stack.append(successor)
                    on_stack.add(successor)
                    work.append((successor, iter(sorted(edges[successor]))))
                    break
                if successor in on_stack:
                    low[node] = min(low[node], index[successor])
            else:
                work.pop()
                if work:
                    low[work[-1][0]] = min(low[work[-1][0]], low[node])
                if low[node] == index[node]:
                    component = []
                    while True:
                        member = stack.pop()
                        on_stack.discard(member)
                        component.append(member)
                        if member == node:
                            break
                    if len(component) > 1:
                        components.append(sorted(component))

    for node in sorted(edges):
        if node not in index:
            visit(node)
    return sorted(components)


def repository_python_files(root: Path = REPO) -> list[Path]:
    """The .py files git knows under `root`: tracked, plus new ones not ignored."""
    listed = subprocess.run(
        ["git", "ls-files", "--cached", "--others", "--exclude-standard", "--", "*.py"],
        cwd=root,
        capture_output=True,
        text=True,
    )
    if listed.returncode != 0:
        raise RuntimeError(f"git ls-files failed in {root}: {listed.stderr.strip()}")
    paths = {Path(line) for line in listed.stdout.splitlines() if line}
    return sorted(p for p in paths if (root / p).is_file())  # a tracked file may be deleted
