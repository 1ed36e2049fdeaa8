"""The CLI process stays light: each pipeline step imports TensorFlow itself, not the CLI."""

import subprocess
import sys

from tests.conftest import REPO


def test_the_cli_and_every_demo_load_without_tensorflow_or_duckdb():
    probe = (
        "import sys, pipelines.cli, pipelines.catalog; "
        "[pipelines.catalog.get_demo(n) for n in pipelines.catalog.PIPELINES]; "
        "print(sorted(m for m in ('tensorflow', 'duckdb', 'pandas') if m in sys.modules))"
    )
    result = subprocess.run(
        [sys.executable, "-c", probe], cwd=REPO, capture_output=True, text=True, timeout=120
    )
    assert result.returncode == 0, result.stderr[-2000:]
    assert result.stdout.strip() == "[]"
