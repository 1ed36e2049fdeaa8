"""A compiled pipeline template (build/pipelines/<name>.yaml): its parameters and images."""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

import yaml

from pipelines.parameters import parse_overrides

# Types of the compiled pipeline spec (parameterType) as Python types.
PARAMETER_TYPES = {
    "STRING": str,
    "NUMBER_INTEGER": int,
    "NUMBER_DOUBLE": float,
    "BOOLEAN": bool,
    "STRUCT": dict,
    "LIST": list,
}
# The image components.container_images falls back on when PIPELINE_IMAGE is not set.
UNSET_IMAGE_MARK = "your-project"


@dataclass(frozen=True)
class PipelineTemplate:
    path: Path
    spec: dict

    @classmethod
    def load(cls, path: str | Path) -> PipelineTemplate:
        path = Path(path)
        if not path.is_file():
            raise SystemExit(f"{path} does not exist: run `make compile` first.")
        try:
            spec = yaml.safe_load(path.read_text())
        except yaml.YAMLError as error:
            raise SystemExit(f"{path} is not YAML ({error}): give a compiled pipeline.") from None
        if not isinstance(spec, dict) or not {"pipelineInfo", "root"} <= spec.keys():
            raise SystemExit(
                f"{path} is not a compiled pipeline (no pipelineInfo and root): compile it with "
                "kfp's compiler, e.g. make compile."
            )
        return cls(path, spec)

    @property
    def name(self) -> str:
        return self.spec["pipelineInfo"]["name"]

    @property
    def parameters(self) -> dict[str, dict]:
        return self.spec["root"].get("inputDefinitions", {}).get("parameters", {})

    def defaults(self) -> dict:
        """Parameter name -> default value, typed as declared (kfp writes 1 as 1.0)."""
        types = self.parameter_types()
        return {
            name: types[name](p["defaultValue"])
            if types[name] in (int, float)
            else p["defaultValue"]
            for name, p in self.parameters.items()
            if "defaultValue" in p
        }

    def parameter_types(self) -> dict[str, type]:
        return {name: PARAMETER_TYPES[p["parameterType"]] for name, p in self.parameters.items()}

    def images(self) -> set[str]:
        executors = self.spec.get("deploymentSpec", {}).get("executors", {})
        return {e["container"]["image"] for e in executors.values() if "container" in e}

    def parameter_values(self, overrides: list[str]) -> dict:
        """Typed values for `--set KEY=VALUE` pairs; every required parameter must be given."""
        values = parse_overrides(overrides, self.parameter_types())
        self.check_required(values)
        return values

    def check_required(self, values: dict) -> None:
        """Every parameter without a default must have a value in `values`."""
        missing = [
            name
            for name, p in self.parameters.items()
            if name not in values and "defaultValue" not in p and not p.get("isOptional")
        ]
        if missing:
            raise SystemExit(
                f"{self.path.stem} needs a value for {', '.join(missing)}: add "
                + " ".join(f"--set {name}=..." for name in missing)
                + " (with make: SET='source_uri=gs://my-bucket/images')."
            )

    def check_images(self) -> None:
        """Refuse a template compiled without PIPELINE_IMAGE: Vertex could not pull its image."""
        unset = sorted(image for image in self.images() if UNSET_IMAGE_MARK in image)
        if unset:
            raise SystemExit(
                f"{self.path} runs its steps in {', '.join(unset)}, the placeholder image: set "
                "PIPELINE_IMAGE to the image you pushed (make image), e.g. "
                "PIPELINE_IMAGE=us-central1-docker.pkg.dev/my-project/mlops/pipeline:latest, "
                "then run make compile again."
            )
