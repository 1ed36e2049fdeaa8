"""Output directories from Vertex AI's AIP_* variables, gs:// read through the /gcs mount."""

from pathlib import Path

import pytest

from serving.contracts.errors import InputError
from trainer.distribution import job_dirs as od
from trainer.distribution.job_dirs import JobDirs, job_dirs, local_path


@pytest.fixture
def fuse_root(tmp_path, monkeypatch) -> Path:
    """A stand-in for Vertex AI's Cloud Storage FUSE mount."""
    root = tmp_path / "gcs"
    root.mkdir()
    monkeypatch.setattr(od, "GCS_FUSE_ROOT", root)
    return root


def test_directories_come_from_the_aip_variables(tmp_path):
    env = {
        "AIP_MODEL_DIR": str(tmp_path / "model"),
        "AIP_CHECKPOINT_DIR": str(tmp_path / "checkpoints"),
        "AIP_TENSORBOARD_LOG_DIR": str(tmp_path / "logs"),
    }
    assert job_dirs(environ=env) == JobDirs(
        tmp_path / "model", tmp_path / "checkpoints", tmp_path / "logs"
    )


def test_the_process_environment_is_the_default(tmp_path, monkeypatch):
    monkeypatch.setenv("AIP_TENSORBOARD_LOG_DIR", str(tmp_path / "logs"))
    monkeypatch.delenv("AIP_CHECKPOINT_DIR", raising=False)
    dirs = job_dirs(model_dir=tmp_path / "model")
    assert dirs == JobDirs(tmp_path / "model", None, tmp_path / "logs")


def test_nothing_set_means_no_directories():
    assert job_dirs(environ={}) == JobDirs(None, None, None)


def test_an_explicit_model_dir_wins_over_the_variable(tmp_path):
    env = {"AIP_MODEL_DIR": "gs://job-bucket/out/model/"}  # not even resolved
    assert job_dirs(tmp_path / "mine", environ=env).model_dir == tmp_path / "mine"


def test_empty_values_count_as_unset(tmp_path):
    env = {
        "AIP_MODEL_DIR": str(tmp_path / "model"),
        "AIP_CHECKPOINT_DIR": "",
        "AIP_TENSORBOARD_LOG_DIR": "  ",
    }
    assert job_dirs(model_dir="", environ=env) == JobDirs(tmp_path / "model", None, None)


def test_gs_uris_map_to_the_fuse_mount(fuse_root):
    env = {
        "AIP_MODEL_DIR": "gs://job-bucket/runs/7/model/",
        "AIP_CHECKPOINT_DIR": "gs://job-bucket/runs/7/checkpoints/",
        "AIP_TENSORBOARD_LOG_DIR": "gs://job-bucket/runs/7/logs/",
    }
    runs = fuse_root / "job-bucket" / "runs" / "7"
    assert job_dirs(environ=env) == JobDirs(runs / "model", runs / "checkpoints", runs / "logs")
    assert local_path("gs://job-bucket") == fuse_root / "job-bucket"
    assert local_path("relative/dir") == Path("relative/dir")


def test_gs_uri_without_the_mount_is_refused(tmp_path, monkeypatch):
    monkeypatch.setattr(od, "GCS_FUSE_ROOT", tmp_path / "not-mounted")
    env = {"AIP_CHECKPOINT_DIR": "gs://job-bucket/checkpoints"}
    with pytest.raises(InputError, match=r"AIP_CHECKPOINT_DIR.*run on Vertex AI.*local directory"):
        job_dirs(environ=env)
    with pytest.raises(InputError, match="--model-dir is 'gs://b/m'"):
        local_path("gs://b/m", "--model-dir")


def test_gs_uri_without_a_bucket_is_refused(fuse_root):
    with pytest.raises(InputError, match="AIP_MODEL_DIR 'gs:///model' has no bucket"):
        job_dirs(environ={"AIP_MODEL_DIR": "gs:///model"})
