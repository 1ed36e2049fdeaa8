import json

import pytest


@pytest.fixture
def exported(tmp_path):
    """A stand-in export directory: the registry and its check copy files and read
    metadata.json, never the graph."""
    model = tmp_path / "export"
    (model / "variables").mkdir(parents=True)
    (model / "saved_model.pb").write_bytes(b"graph")
    (model / "metadata.json").write_text(json.dumps({"classes": ["a", "b"]}))
    return model
