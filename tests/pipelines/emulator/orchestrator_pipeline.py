"""A tiny pipeline that touches every gap the emulator's orchestrator fills (see its test).

kfp's local runner needs components in .py files; the pipeline is compiled to
Vertex IR in the test and run from that YAML, as the emulator runs real ones.
"""

# No `from __future__ import annotations`: kfp reads the annotations as types.
from typing import NamedTuple

from google_cloud_pipeline_components.types.artifact_types import UnmanagedContainerModel
from kfp import dsl
from kfp.dsl import Dataset, Input, Output

from components.container_images import PIPELINE_IMAGE

# Reads back what the emulator filled in: the project, the number as Vertex writes
# it, and the executor input that `{{$.json_escape[1]}}` embedded in a JSON payload.
_REPORT_SCRIPT = """
import json, pathlib, sys
project, count, payload, out_text, out_artifact = sys.argv[1:6]
executor_input = json.loads(json.loads(payload)["executor_input"])
pathlib.Path(out_artifact).write_text("report")
pathlib.Path(out_text).write_text(json.dumps({
    "project": project,
    "count": count,
    "payload_count": executor_input["inputs"]["parameterValues"]["count"],
    "payload_outputs": sorted(executor_input["outputs"]["artifacts"]),
}))
"""


@dsl.container_component
def report(count: float, summary: dsl.OutputPath(str), report: Output[UnmanagedContainerModel]):
    """Writes no executor output: its artifact exists because it was declared."""
    return dsl.ContainerSpec(
        image="gcr.io/ml-pipeline/google-cloud-pipeline-components:2.22.0",
        command=["python3", "-c", _REPORT_SCRIPT],
        args=[
            "{{$.pipeline_google_cloud_project_id}}",
            count,
            '{"executor_input": "{{$.json_escape[1]}}"}',
            summary,
            report.path,
        ],
    )


@dsl.component(base_image=PIPELINE_IMAGE, install_kfp_package=False)
def check_specs(specs: list) -> NamedTuple("Outputs", scaled=int):
    """Fails unless the nested placeholders arrived resolved and typed.

    A named output, which kfp.local alone reads as false in a condition.
    """
    machine = specs[0]["machine_spec"]
    if not isinstance(machine["accelerator_count"], int):
        raise TypeError(f"accelerator_count is {machine['accelerator_count']!r}, not an int")
    if machine["machine_type"] != "n1-standard-4" or specs[0]["name"] != "job-n1-standard-4":
        raise ValueError(f"unresolved: {specs}")
    if specs[0]["project"] != "test-project":
        raise ValueError(f"project not filled: {specs}")
    return (machine["accelerator_count"] * 10,)


@dsl.component(base_image=PIPELINE_IMAGE, install_kfp_package=False)
def make_dataset(text: str, data: Output[Dataset]):
    with open(data.path, "w") as f:
        f.write(text)


@dsl.component(base_image=PIPELINE_IMAGE, install_kfp_package=False)
def read_dataset(data: Input[Dataset]) -> str:
    """Reads the chosen branch's dataset through its /gcs path, as on Vertex."""
    from trainer.distribution.job_dirs import local_path

    if str(local_path(data.uri)) != data.path:
        raise ValueError(f"trainer maps {data.uri} elsewhere than kfp ({data.path})")
    with open(data.path) as f:
        return f.read()


@dsl.component(base_image="python:3.11", install_kfp_package=False)
def fail(message: str):
    raise ValueError(message)


class CheckOutputs(NamedTuple):
    chosen: Dataset
    report: UnmanagedContainerModel
    imported: UnmanagedContainerModel


@dsl.pipeline(name="emulator-orchestrator-check")
def check_pipeline(
    count: float = 100.0,
    machine_type: str = "n1-standard-4",
    accelerator_count: int = 2,
) -> CheckOutputs:
    reported = report(count=count)
    specs = check_specs(
        specs=[
            {
                "name": f"job-{machine_type}",
                "project": "{{$.pipeline_google_cloud_project_id}}",
                "machine_spec": {
                    "machine_type": machine_type,
                    "accelerator_count": accelerator_count,
                },
                "replica_count": 1,
            }
        ]
    )
    with dsl.If(specs.outputs["scaled"] >= 20):
        big = make_dataset(text="big")
    with dsl.Else():
        small = make_dataset(text="small")
    chosen = dsl.OneOf(big.outputs["data"], small.outputs["data"])
    read_dataset(data=chosen)
    with dsl.If(specs.outputs["scaled"] == 20):  # no Else: the condition reads the task output
        make_dataset(text="named")
    imported = dsl.importer(
        artifact_uri="gs://bucket/models/imported",
        artifact_class=UnmanagedContainerModel,
        metadata={"containerSpec": {"imageUri": "serving:latest"}},
    )
    return CheckOutputs(chosen=chosen, report=reported.outputs["report"], imported=imported.output)


@dsl.pipeline(name="emulator-orchestrator-failure")
def failing_pipeline(message: str = "boom"):
    fail(message=message)


@dsl.pipeline(name="emulator-orchestrator-notified")
def passing_pipeline(text: str = "fine") -> Dataset:
    return make_dataset(text=text).outputs["data"]
