"""The catalog's pipelines compiled for both targets, once per session (compiled_spec.Spec)."""

import pytest

from pipelines.catalog import PIPELINES
from pipelines.compile import compile_pipeline
from tests.pipelines.compiled_spec import Compiled, Spec


@pytest.fixture(scope="session", params=sorted(PIPELINES))
def compiled(request, tmp_path_factory) -> Compiled:
    """Each catalog pipeline compiled once for each target."""
    out = tmp_path_factory.mktemp(request.param)
    return Compiled(
        request.param,
        vertex=Spec(compile_pipeline(request.param, out / "vertex")),
        local=Spec(compile_pipeline(request.param, out / "local", target="local")),
    )
