"""Where a pipeline runs: the one place where local and Vertex AI steps differ.

A case-study pipeline is written once against `Target`; only training and
deployment change with the target:

- train: locally the component runs in this process tree; on Vertex AI the
  same component runs as a custom job on `machine_type` x `replica_count`
  (+ accelerators).
- champion: the model now deployed, which evaluation compares the new one
  with: the local registry's champion, or the Model Registry version aliased
  `champion`.
- deploy: locally the model becomes the champion of the local registry; on
  Vertex AI it is uploaded as a new version under its parent model in Model
  Registry, aliased `default` and `champion`, and deployed to an endpoint
  reused by name; models left there with no traffic are undeployed.

Both keep the artifact types: train outputs google.UnmanagedContainerModel,
deploy outputs google.VertexModel.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from dataclasses import dataclass
from typing import Any, Protocol

from google_cloud_pipeline_components._placeholders import (
    NETWORK_PLACEHOLDER,
    SERVICE_ACCOUNT_PLACEHOLDER,
)
from google_cloud_pipeline_components.v1.custom_job import (
    create_custom_training_job_from_component,
)
from google_cloud_pipeline_components.v1.endpoint import ModelDeployOp
from google_cloud_pipeline_components.v1.model import ModelUploadOp
from kfp import dsl

from components.find_champion import find_local_champion, find_vertex_champion
from components.register_model_locally import register_model_locally
from components.vertex_resources import (
    additional_workers,
    get_or_create_endpoint,
    parent_model,
    undeploy_idle_models,
)

Channel = Any  # a kfp PipelineChannel (pipeline parameter or task output)

# A blessed model becomes the default version and the champion (evaluation's reference).
CHAMPION_ALIASES = ("default", "champion")


@dataclass(frozen=True)
class TrainingResources:
    """Machines for the training step (pipeline parameters; Vertex AI only)."""

    machine_type: Channel
    accelerator_type: Channel
    accelerator_count: Channel
    replica_count: Channel


@dataclass(frozen=True)
class Deployment:
    """Where a blessed model goes (pipeline parameters)."""

    model_name: Channel
    registry_uri: Channel  # local registry directory (local target)
    endpoint_name: Channel  # Vertex AI endpoint display name, reused when it exists
    machine_type: Channel
    min_replica_count: Channel
    max_replica_count: Channel
    traffic_split: Channel  # {"0": 100}: "0" is the model being deployed


class Target(Protocol):
    name: str

    def train(
        self, component: Callable, resources: TrainingResources, **inputs: Any
    ) -> Mapping[str, Channel]:
        """Run the training component; return its outputs by name."""

    def champion(self, deployment: Deployment) -> Channel:
        """The deployed model's location ("" if none), for evaluation to compare with."""

    def deploy(self, model: Channel, deployment: Deployment) -> None:
        """Register and serve a blessed model (called inside the blessing's dsl.If)."""


class LocalTarget:
    name = "local"

    def train(
        self, component: Callable, resources: TrainingResources, **inputs: Any
    ) -> Mapping[str, Channel]:
        return component(**inputs).set_display_name("train").outputs

    def champion(self, deployment: Deployment) -> Channel:
        task = find_local_champion(
            registry_uri=deployment.registry_uri,
            model_name=deployment.model_name,
            pipeline_run=dsl.PIPELINE_JOB_ID_PLACEHOLDER,
        )
        return task.set_display_name("find-champion").set_caching_options(False).output

    def deploy(self, model: Channel, deployment: Deployment) -> None:
        register_model_locally(
            model=model, registry_uri=deployment.registry_uri, model_name=deployment.model_name
        ).set_display_name("deploy")


class VertexTarget:
    name = "vertex"

    def train(
        self, component: Callable, resources: TrainingResources, **inputs: Any
    ) -> Mapping[str, Channel]:
        """The component as a Vertex custom job; replica_count > 1 adds a worker pool.

        Vertex sets TF_CONFIG and CLUSTER_SPEC on every replica of a job with
        more than one pool member. The number of pools is fixed per job spec, so
        one branch runs single-machine and one multi-worker; dsl.OneOf hands the
        outputs of whichever ran to the next steps.
        """
        job = create_custom_training_job_from_component(
            component,
            display_name="train",
            # Run as the pipeline's own service account, on its network (VERTEX_*),
            # not as Vertex AI's Custom Code Service Agent.
            service_account=SERVICE_ACCOUNT_PLACEHOLDER,
            network=NETWORK_PLACEHOLDER,
        )
        chief = _worker_pool(job, resources, replica_count=1)
        with dsl.If(resources.replica_count > 1, name="multi-worker"):
            workers = additional_workers(replica_count=resources.replica_count)
            workers.set_display_name("worker-count")
            worker_pool = _worker_pool(job, resources, replica_count=workers.output)
            multi = job(**inputs, worker_pool_specs=[chief, worker_pool])
            multi.set_display_name("train-multi-worker")
        with dsl.Else(name="single-machine"):
            single = job(**inputs, worker_pool_specs=[chief]).set_display_name("train")
        return {
            name: dsl.OneOf(multi.outputs[name], single.outputs[name])
            for name in component.component_spec.outputs
        }

    def champion(self, deployment: Deployment) -> Channel:
        task = find_vertex_champion(
            display_name=deployment.model_name, pipeline_run=dsl.PIPELINE_JOB_ID_PLACEHOLDER
        )
        return task.set_display_name("find-champion").set_caching_options(False).output

    def deploy(self, model: Channel, deployment: Deployment) -> None:
        run = dsl.PIPELINE_JOB_ID_PLACEHOLDER
        parent = parent_model(display_name=deployment.model_name, pipeline_run=run)
        parent.set_display_name("find-parent-model").set_caching_options(False)
        upload = ModelUploadOp(
            display_name=deployment.model_name,
            unmanaged_container_model=model,
            parent_model=parent.outputs["model"],
            version_aliases=list(CHAMPION_ALIASES),
        ).set_display_name("upload-model")
        upload.set_caching_options(False)
        endpoint = get_or_create_endpoint(display_name=deployment.endpoint_name, pipeline_run=run)
        endpoint.set_display_name("endpoint").set_caching_options(False)
        deploy = (
            ModelDeployOp(
                model=upload.outputs["model"],
                endpoint=endpoint.outputs["endpoint"],
                deployed_model_display_name=deployment.model_name,
                dedicated_resources_machine_type=deployment.machine_type,
                dedicated_resources_min_replica_count=deployment.min_replica_count,
                dedicated_resources_max_replica_count=deployment.max_replica_count,
                traffic_split=deployment.traffic_split,
            )
            .set_display_name("deploy-model")
            .set_caching_options(False)
        )
        retire = undeploy_idle_models(endpoint=endpoint.outputs["endpoint"]).after(deploy)
        retire.set_display_name("undeploy-idle-models").set_caching_options(False)


TARGETS: dict[str, Target] = {"local": LocalTarget(), "vertex": VertexTarget()}


def deploy_if_blessed(
    target: Target, evaluate: dsl.PipelineTask, model: Channel, deployment: Deployment
) -> None:
    """Deploy `model` only when `evaluate` returned True (its single output, "Output").

    The kfp 2.17 local runner resolves a task output in a dsl.If condition only
    under that name; a named output would silently read as false.
    """
    with dsl.If(evaluate.outputs["Output"] == True, name="blessed"):  # noqa: E712 (kfp condition)
        target.deploy(model, deployment)


def _worker_pool(job: Callable, resources: TrainingResources, replica_count: Channel) -> dict:
    """One worker pool spec: the component's own container on the chosen machines.

    The container (image, command, executor-input placeholder) is the one
    create_custom_training_job_from_component derived from the component; the
    machine fields are pipeline parameters, which kfp compiles into
    placeholders Vertex fills in at run time.
    """
    template = job.component_spec.inputs["worker_pool_specs"].default[0]
    return {
        **template,
        "machine_spec": {
            "machine_type": resources.machine_type,
            "accelerator_type": resources.accelerator_type,
            "accelerator_count": resources.accelerator_count,
        },
        "replica_count": replica_count,
    }
