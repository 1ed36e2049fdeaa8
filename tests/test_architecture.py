"""The project's structure, checked from the source (docs/architecture.md says why).

Each check takes the root of a tree and returns its violations, one line each naming the
file and the import; the tests at the end run each check on small synthetic trees, so a
checker that sees nothing fails too.
"""

from __future__ import annotations

import subprocess
import textwrap
from collections.abc import Iterable
from pathlib import Path

import pytest

from tests.import_graph import (
    REPO,
    graph,
    imports,
    project_modules,
    repository_python_files,
    strongly_connected,
)
from trainer.catalog import case_names

MAX_LINES = 400
MAX_TRAINER_MODULES = 15
CASE_LAYERS = ("trainer", "components", "pipelines")
CONTRACTS = "serving.contracts"
TENSORFLOW = ("tensorflow", "tensorflow_hub", "tf_keras", "keras")
NOT_FOR_SERVING = ("trainer", "components", "pipelines")


def _within(module: str, package: str) -> bool:
    return module == package or module.startswith(f"{package}.")


def import_cycles(root: Path = REPO) -> list[str]:
    """One line per cycle: its modules, then the imports that close it."""
    found = imports(root)
    problems = []
    for component in strongly_connected(graph(found)):
        members = set(component)
        lines = [str(i) for i in found if i.importer in members and i.module in members]
        problems.append(f"cycle among {', '.join(component)}:\n    " + "\n    ".join(lines))
    return problems


def case_of(module: str, cases: Iterable[str]) -> str | None:
    """The case study whose package holds `module` (trainer/<case>/, components/<case>/,
    pipelines/<case>/), else None."""
    parts = module.split(".")
    if len(parts) >= 2 and parts[0] in CASE_LAYERS and parts[1] in set(cases):
        return parts[1]
    return None


def case_crossings(root: Path = REPO, cases: Iterable[str] | None = None) -> list[str]:
    """Imports from one case study's packages into another's."""
    cases = tuple(case_names() if cases is None else cases)
    problems = []
    for imp in imports(root):
        importer_case = case_of(imp.importer, cases)
        imported_case = None if imp.module is None else case_of(imp.module, cases)
        if importer_case and imported_case and importer_case != imported_case:
            problems.append(f"{imp} (case {importer_case} imports case {imported_case})")
    return problems


def contracts_leaks(root: Path = REPO) -> list[str]:
    """Imports of serving/contracts/ reaching the rest of the project or TensorFlow."""
    problems = []
    for imp in imports(root):
        if not _within(imp.importer, CONTRACTS):
            continue
        if imp.module is not None and not _within(imp.module, CONTRACTS):
            problems.append(f"{imp} (outside {CONTRACTS})")
        elif imp.name.split(".")[0] in TENSORFLOW:
            problems.append(f"{imp} (TensorFlow)")
    return problems


def serving_reaches(root: Path = REPO) -> list[str]:
    """Imports from serving/ into trainer/, components/ or pipelines/."""
    return [
        str(imp)
        for imp in imports(root)
        if _within(imp.importer, "serving")
        and imp.module is not None
        and imp.module.split(".")[0] in NOT_FOR_SERVING
    ]


def long_files(root: Path, files: Iterable[Path], limit: int = MAX_LINES) -> list[str]:
    """The files of `files` (relative to `root`) with more than `limit` lines."""
    problems = []
    for relative in files:
        count = len((root / relative).read_text(encoding="utf-8").splitlines())
        if count > limit:
            problems.append(f"{Path(relative).as_posix()}: {count} lines")
    return problems


def crowded_trainer(root: Path = REPO, limit: int = MAX_TRAINER_MODULES) -> list[str]:
    """trainer/'s own modules, if there are more than `limit` of them."""
    modules = sorted(p.name for p in (root / "trainer").glob("*.py"))
    if len(modules) <= limit:
        return []
    return [f"trainer/ has {len(modules)} modules (at most {limit}): {', '.join(modules)}"]


def _report(problems: list[str]) -> str:
    return "\n".join(problems)


# --- The repository -----------------------------------------------------------------------


def test_the_graph_reads_the_repository():
    """Guards the checks below against passing on an empty or misread graph."""
    modules = project_modules()
    edges = graph(imports())
    assert {"trainer.task", "serving.contracts.errors", "pipelines.vision.pipeline"} <= set(modules)
    assert "trainer.catalog" in edges["trainer.task"]
    assert any(_within(m, "components.vision") for m in edges["pipelines.vision.pipeline"])
    assert len(case_names()) >= 3


def test_there_are_no_import_cycles():
    problems = import_cycles()
    assert not problems, "Import cycles:\n" + _report(problems)


def test_no_case_study_imports_another():
    problems = case_crossings()
    assert not problems, "A case study imports another's package:\n" + _report(problems)


def test_contracts_import_nothing_else_of_the_project_nor_tensorflow():
    problems = contracts_leaks()
    assert not problems, f"{CONTRACTS} must stand alone:\n" + _report(problems)


def test_serving_imports_neither_trainer_components_nor_pipelines():
    problems = serving_reaches()
    assert not problems, "serving/ reaches into the training side:\n" + _report(problems)


def test_no_python_file_is_over_400_lines():
    problems = long_files(REPO, repository_python_files())
    assert not problems, f"Files over {MAX_LINES} lines (split them):\n" + _report(problems)


def test_trainer_keeps_at_most_15_modules_of_its_own():
    problems = crowded_trainer()
    assert not problems, _report(problems)


# --- The checker, on synthetic trees -------------------------------------------------------


def _tree(root: Path, files: dict[str, str]) -> Path:
    for relative, source in files.items():
        path = root / relative
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(textwrap.dedent(source))
    return root


def test_a_cycle_through_a_lazy_and_a_type_checking_import_is_found(tmp_path):
    root = _tree(
        tmp_path,
        {
            "trainer/__init__.py": "",
            "trainer/a.py": """
                def f():
                    from trainer import b
                    return b
            """,
            "trainer/b.py": """
                from typing import TYPE_CHECKING
                if TYPE_CHECKING:
                    from .a import f
            """,
            "trainer/c.py": "import trainer.a\n",
        },
    )
    problems = import_cycles(root)
    assert len(problems) == 1
    assert problems[0].startswith("cycle among trainer.a, trainer.b:")
    assert "trainer/a.py:3: trainer.a imports trainer.b" in problems[0]
    assert "trainer/b.py:4: trainer.b imports trainer.a.f" in problems[0]
    assert "trainer.c" not in problems[0]


def test_a_three_module_cycle_is_one_component(tmp_path):
    root = _tree(
        tmp_path,
        {
            "serving/x.py": "import serving.y\n",
            "serving/y.py": "from serving import z\n",
            "serving/z.py": "from . import x\n",
        },
    )
    assert [p.splitlines()[0] for p in import_cycles(root)] == [
        "cycle among serving.x, serving.y, serving.z:"
    ]


def test_imports_mean_the_module_file_else_the_package(tmp_path):
    root = _tree(
        tmp_path,
        {
            "trainer/__init__.py": "",
            "trainer/data/__init__.py": "",
            "trainer/data/sql.py": "from . import sql_helper, helper\nfrom ..data import sql\n",
            "trainer/data/sql_helper.py": "from .. import catalog\nimport os.path\n",
            "trainer/catalog.py": "",
        },
    )
    meant = {(i.importer, i.name): i.module for i in imports(root)}
    assert meant == {
        ("trainer.data.sql", "trainer.data.sql_helper"): "trainer.data.sql_helper",
        ("trainer.data.sql", "trainer.data.helper"): "trainer.data",  # a name in __init__
        ("trainer.data.sql_helper", "trainer.catalog"): "trainer.catalog",
        ("trainer.data.sql_helper", "os.path"): None,
    }  # `from ..data import sql` in sql itself is no dependency


def test_a_case_importing_another_case_is_found(tmp_path):
    root = _tree(
        tmp_path,
        {
            "trainer/vision/model.py": "",
            "trainer/text/model.py": "",
            "trainer/evaluation/report.py": "from trainer.vision import model\n",
            "components/text/train.py": """
                def train():
                    from trainer.text import model
                    from trainer.vision.model import build
            """,
            "pipelines/vision/pipeline.py": "from components.text import train\n",
        },
    )
    assert case_crossings(root, cases=("text", "vision")) == [
        "components/text/train.py:4: components.text.train imports trainer.vision.model.build"
        " (case text imports case vision)",
        "pipelines/vision/pipeline.py:1: pipelines.vision.pipeline imports components.text.train"
        " (case vision imports case text)",
    ]


def test_contracts_importing_tensorflow_or_the_project_is_found(tmp_path):
    root = _tree(
        tmp_path,
        {
            "serving/contracts/__init__.py": "",
            "serving/contracts/errors.py": "",
            "serving/contracts/storage.py": """
                import json
                from .errors import InputError
                def load():
                    import tensorflow as tf
                    from tf_keras import layers
            """,
            "serving/contracts/splits.py": "from ..registry import local\n",
            "serving/registry/local.py": "import tensorflow\n",
        },
    )
    assert contracts_leaks(root) == [
        "serving/contracts/splits.py:1: serving.contracts.splits imports"
        " serving.registry.local (outside serving.contracts)",
        "serving/contracts/storage.py:5: serving.contracts.storage imports tensorflow (TensorFlow)",
        "serving/contracts/storage.py:6: serving.contracts.storage imports tf_keras.layers"
        " (TensorFlow)",
    ]


def test_serving_importing_the_training_side_is_found(tmp_path):
    root = _tree(
        tmp_path,
        {
            "serving/server/api.py": "from serving.contracts import errors\nimport pipelines\n",
            "serving/contracts/errors.py": "",
            "pipelines/__init__.py": "",
            "trainer/task.py": "from serving.server import api\n",
        },
    )
    assert serving_reaches(root) == [
        "serving/server/api.py:2: serving.server.api imports pipelines"
    ]


def test_long_files_and_a_crowded_trainer_are_found(tmp_path):
    lines = {f"trainer/m{n:02}.py": "x = 1\n" * (400 + n // 15) for n in range(16)}
    root = _tree(tmp_path, lines)
    assert long_files(root, [Path(p) for p in sorted(lines)]) == ["trainer/m15.py: 401 lines"]
    assert crowded_trainer(root) == [
        "trainer/ has 16 modules (at most 15): " + ", ".join(p[8:] for p in sorted(lines))
    ]
    (root / "trainer/m15.py").unlink()
    assert crowded_trainer(root) == []


@pytest.mark.parametrize(
    ("module", "case"),
    [
        ("trainer.vision.model", "vision"),
        ("pipelines.text", "text"),
        ("components.champion", None),
        ("serving.vision", None),
        ("trainer.visionary", None),
    ],
)
def test_case_of(module: str, case: str | None):
    assert case_of(module, ("vision", "text")) == case


def test_the_files_checked_for_length_are_those_git_knows(tmp_path):
    """A throwaway git repository, so that ignored files (a virtualenv) are left out."""
    root = _tree(
        tmp_path,
        {
            ".gitignore": ".venv/\n",
            "tracked.py": "",
            "new.py": "",
            "notes.txt": "",
            ".venv/lib/big.py": "",
            "gone.py": "",
        },
    )
    subprocess.run(["git", "init", "-q"], cwd=root, check=True)
    subprocess.run(["git", "add", "tracked.py", "gone.py"], cwd=root, check=True)
    (root / "gone.py").unlink()
    assert repository_python_files(root) == [Path("new.py"), Path("tracked.py")]
