"""Make variables reach commands as data, never as code.

CI systems pass PIPELINE, SOURCE, SET and the like from outside, so each
target runs here for real with hostile values: the project's Python (`PY`) is
replaced by a script that records its arguments, and every value must arrive
verbatim while none of the commands planted in it runs.
"""

from __future__ import annotations

import json
import os
import stat
import subprocess
import sys
from pathlib import Path

import pytest

from tests.conftest import REPO

# Each would create the marker file if make or the shell evaluated it.
HOSTILE = (
    "$(shell touch {marker})",
    "$$(touch {marker})",
    "`touch {marker}`",
    "a'; touch {marker}; echo '",
    'b"; touch {marker}; echo "',
    "c; touch {marker}",
    "d\\' $(touch {marker})",
    "e#f $(shell touch {marker})",
)


def _recorder(tmp_path: Path) -> tuple[Path, Path]:
    """A stand-in for .venv/bin/python that appends its arguments (JSON) to a file."""
    calls = tmp_path / "calls.jsonl"
    script = tmp_path / "python"
    script.write_text(
        f"#!{sys.executable}\n"
        "import json, sys\n"
        f"open({str(calls)!r}, 'a').write(json.dumps(sys.argv[1:]) + '\\n')\n"
    )
    script.chmod(script.stat().st_mode | stat.S_IXUSR)
    return script, calls


def _make(tmp_path: Path, target: str, **variables: str) -> list[list[str]]:
    script, calls = _recorder(tmp_path)
    assignments = [f"{name}={value}" for name, value in variables.items()]
    env = {k: v for k, v in os.environ.items() if k not in ("MAKEFLAGS", "MFLAGS")}
    result = subprocess.run(
        ["make", "--no-print-directory", "-o", ".venv/.installed", target, f"PY={script}",
         *assignments],
        cwd=REPO, env=env, capture_output=True, text=True, timeout=60, stdin=subprocess.DEVNULL,
    )  # fmt: skip
    assert result.returncode == 0, result.stderr
    return [json.loads(line) for line in calls.read_text().splitlines()]


@pytest.mark.parametrize("template", HOSTILE)
def test_run_passes_pipeline_source_and_set_verbatim(tmp_path, template):
    marker = tmp_path / "planted"
    value = template.format(marker=marker)
    [argv] = _make(tmp_path, "run", PIPELINE=value, SOURCE=value, SET=f"k={value}")
    assert not marker.exists()
    assert argv[:4] == ["-m", "pipelines", "run", value]
    assert argv[4:6] == ["--source", value]
    # SET is split on whitespace (several KEY=VALUE), each item one argument
    items = ["k=" + value.split()[0], *value.split()[1:]]
    assert argv[6:] == [arg for item in items for arg in ("--set", item)]


@pytest.mark.parametrize(
    ("target", "variables", "expected"),
    [
        ("emulate", {"SOURCE": "$(shell touch {m})"}, ["--source", "$(shell touch {m})"]),
        ("train", {"ARGS": "--epochs=3 `touch {m}`"}, ["--", "--epochs=3", "`touch", "{m}`"]),
        ("train", {"WORKERS": "2; touch {m}"}, ["--workers", "2; touch {m}"]),
        ("serve", {"PORT": "80$(touch {m})", "MODEL": "x'y"}, ["--port", "80$(touch {m})"]),
        ("serve", {"REQUEST_LOG": "l$(touch {m})"}, ["--request-log", "l$(touch {m})"]),
        (
            "monitor",
            {"MODEL": "v`touch {m}`", "REQUEST_LOG": "'$(touch {m})"},
            ["monitor", "v`touch {m}`", "--request-log", "'$(touch {m})"],
        ),
        # a variable make exports to the commands' environment, with the commands' own
        (
            "compile",
            {"VERTEX_REGION": "$(shell touch {m})", "PIPELINE_ROOT": "#$(shell touch {m})"},
            ["-m", "pipelines", "compile"],
        ),
        ("rollback", {"PIPELINE": "text && touch {m}"}, ["rollback", "text && touch {m}"]),
        (
            "registry-check",
            {"REGISTRY": "r'$(touch {m})", "REPAIR": "`touch {m}`"},
            ["serving.registry.registry_check", "--registry", "r'$(touch {m})", "--repair"],
        ),
        ("submit", {"SET": "a=$$(touch {m})", "WAIT": "`touch {m}`"}, ["--set", "{m})", "--wait"]),
    ],
)
def test_every_target_takes_its_variables_as_data(tmp_path, target, variables, expected):
    marker = tmp_path / "planted"
    planted = {name: value.format(m=marker) for name, value in variables.items()}
    calls = _make(tmp_path, target, **planted)
    assert not marker.exists()
    argv = calls[-1]
    wanted = [item.format(m=marker) for item in expected]
    assert any(argv[i : i + len(wanted)] == wanted for i in range(len(argv))), argv
