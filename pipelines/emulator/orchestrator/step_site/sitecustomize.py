"""What a step process sees of Vertex AI: the emulator's only change to what runs in steps.

The emulator puts this directory on PYTHONPATH of every step process and
custom-job replica, and bin/ first on PATH so that their `python3` is the
emulator's interpreter (there is no container image to run instead). Nothing
else about their code or packages is changed. What it sets, when asked:

- VERTEX_EMULATOR_GCS_ROOT: the directory that plays the Cloud Storage FUSE
  mount Vertex AI provides at /gcs, so gs://bucket/path is read and written at
  <root>/bucket/path, both by kfp's artifact paths
  (kfp.dsl.types.artifact_types._GCS_LOCAL_MOUNT_PREFIX) and by the trainer's
  AIP_* output directories (trainer.distribution.job_dirs.GCS_FUSE_ROOT).
- VERTEX_EMULATOR_POLL_SECONDS: how often GCPC's launchers poll a job or a
  long-running operation (20 s in GCPC), so that polling does not dominate a run.

Each value is set right after its module is first imported, so a step pays
nothing for the modules it does not use.
"""

from __future__ import annotations

import os
import sys
from collections.abc import Callable, Mapping
from importlib.abc import Loader, MetaPathFinder
from types import ModuleType

_POLLING_MODULES = (
    "google_cloud_pipeline_components.container.v1.gcp_launcher.job_remote_runner",
    "google_cloud_pipeline_components.container.v1.gcp_launcher.lro_remote_runner",
    "google_cloud_pipeline_components.container.v1.gcp_launcher.pipeline_remote_runner",
    "google_cloud_pipeline_components.container.v1.wait_gcp_resources.remote_runner",
    "google_cloud_pipeline_components.container.v1.bigquery.utils.bigquery_util",
    "google_cloud_pipeline_components.container.preview.gcp_launcher.job_remote_runner",
)

Setter = Callable[[ModuleType], None]
# What the names below were read from; another version may have moved them.
WRITTEN_FOR = "kfp 2.17.0, google-cloud-pipeline-components 2.22.0, this project's trainer"


def _set(module: ModuleType, name: str, value: object) -> None:
    """module.name = value, refusing a module that has no such name (another version)."""
    if not hasattr(module, name):
        raise RuntimeError(
            f"The Vertex AI emulator sets {module.__name__}.{name}, which this version does not "
            f"have: the emulator's step_site/sitecustomize.py was written for {WRITTEN_FOR}."
        )
    setattr(module, name, value)


def _setters(environ: Mapping[str, str]) -> dict[str, Setter]:
    setters: dict[str, Setter] = {}
    gcs_root = environ.get("VERTEX_EMULATOR_GCS_ROOT", "")
    if gcs_root:

        def set_kfp_prefix(module: ModuleType) -> None:
            _set(module, "_GCS_LOCAL_MOUNT_PREFIX", gcs_root.rstrip("/") + "/")

        def set_trainer_root(module: ModuleType) -> None:
            from pathlib import Path

            _set(module, "GCS_FUSE_ROOT", Path(gcs_root))

        setters["kfp.dsl.types.artifact_types"] = set_kfp_prefix
        setters["trainer.distribution.job_dirs"] = set_trainer_root
    poll = environ.get("VERTEX_EMULATOR_POLL_SECONDS", "")
    if poll:
        seconds = float(poll)

        def set_poll(module: ModuleType) -> None:
            _set(module, "_POLLING_INTERVAL_IN_SECONDS", seconds)

        setters.update(dict.fromkeys(_POLLING_MODULES, set_poll))
    return setters


class _SetAfterExec(Loader):
    """Runs the module's own loader, then the setter."""

    def __init__(self, loader: Loader, setter: Setter):
        self._loader, self._setter = loader, setter

    def create_module(self, spec):
        return self._loader.create_module(spec)

    def exec_module(self, module: ModuleType) -> None:
        self._loader.exec_module(module)
        self._setter(module)

    def __getattr__(self, name: str):
        return getattr(self._loader, name)


class _SetOnImport(MetaPathFinder):
    def __init__(self, setters: dict[str, Setter]):
        self._setters = setters

    def find_spec(self, name, path=None, target=None):
        setter = self._setters.get(name)
        if setter is None:
            return None
        for finder in sys.meta_path:
            find = getattr(finder, "find_spec", None)
            if finder is self or find is None:
                continue
            spec = find(name, path, target)
            if spec is not None:
                if spec.loader is not None:
                    spec.loader = _SetAfterExec(spec.loader, setter)
                return spec
        return None


def _install() -> None:
    setters = _setters(os.environ)
    if not setters:
        return
    for name, setter in setters.items():
        if name in sys.modules:
            setter(sys.modules[name])
    sys.meta_path.insert(0, _SetOnImport(setters))


_install()
