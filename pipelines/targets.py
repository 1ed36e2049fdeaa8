"""Where a pipeline runs: the one place where local and Vertex AI steps differ.

A case-study pipeline is written once against `Target`; only training and
deployment change with the target:

- train: locally the component runs in this process tree; on Vertex AI the
  same component runs as a custom job on `machine_type` x `replica_count`
  (+ accelerators).
- tune (tuning_trials > 0, pipelines/tuning.py): locally a step runs the study's
  trials as local processes; on Vertex AI a HyperparameterTuningJob runs them.
- champion: the model now deployed, which validation, evaluation and monitoring
  compare with: the local registry's champion, or the Model Registry version aliased
  `champion`.
- deploy: locally the model becomes the champion of the local registry; on
  Vertex AI it is uploaded as a new version under its parent model in Model
  Registry, aliased `default` and `champion`, and deployed to an endpoint
  reused by name; models left there with no traffic are undeployed, and Vertex
  AI Model Monitoring is configured on the endpoint (components.model_monitoring).
- batch_predict: locally a step streams the instances through the local registry's
  model; on Vertex AI GCPC's ModelBatchPredictOp runs a BatchPredictionJob on the Model
  Registry version (pipelines/batch_prediction/steps.py).
- notifying: on Vertex AI, with VERTEX_NOTIFICATION_EMAILS set when the pipeline is
  built (make compile), the whole pipeline runs inside an exit handler that mails
  them its end (pipelines/notifications.py); locally a person reads the final
  summary and the exit code, and the pipeline is left as it is.

Both keep the artifact types: train outputs google.UnmanagedContainerModel,
deploy outputs google.VertexModel. The caching policy lives here too
(`never_cached`).
"""

from __future__ import annotations

import copy
import json
import re
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from typing import Any, Protocol

from google_cloud_pipeline_components._placeholders import (
    NETWORK_PLACEHOLDER,
    SERVICE_ACCOUNT_PLACEHOLDER,
)
from google_cloud_pipeline_components.v1.custom_job import (
    CustomTrainingJobOp,
    create_custom_training_job_from_component,
)
from google_cloud_pipeline_components.v1.endpoint import ModelDeployOp
from google_cloud_pipeline_components.v1.model import ModelUploadOp
from kfp import dsl
from kfp.dsl.graph_component import GraphComponent

from components.champion import find_local_champion, find_vertex_champion
from components.deploy import (
    get_or_create_endpoint,
    parent_model,
    register_model_locally,
    undeploy_idle_models,
)
from components.model_monitoring import configure_model_monitoring
from components.worker_pools import worker_pool_specs
from pipelines.batch_prediction import steps as batch_steps
from pipelines.notifications import with_exit_notification
from pipelines.tuning import TuningStudy, local_study, vertex_study
from pipelines.vertex.settings import notification_recipients
from trainer.distribution.worker_pools import EXECUTOR_INPUT_MARKER, JSON_ESCAPED_EXECUTOR_INPUT

Channel = Any  # a kfp PipelineChannel (pipeline parameter or task output)

# A blessed model becomes the default version and the champion (evaluation's reference).
CHAMPION_ALIASES = ("default", "champion")

# The custom job's base output directory: under the run's pipeline root (gs://, PIPELINE_ROOT),
# one per run and task so that no run resumes from another's backups (GCPC's own components
# lay out <root>/<job id>/<task id> so; a placeholder in a task argument is kfp's documented
# form). Vertex then sets AIP_CHECKPOINT_DIR (<dir>/checkpoints/) and AIP_TENSORBOARD_LOG_DIR
# (<dir>/logs/); the model goes to the step's output artifact, not to AIP_MODEL_DIR.
CUSTOM_JOB_OUTPUT_DIRECTORY = (
    f"{dsl.PIPELINE_ROOT_PLACEHOLDER}/{dsl.PIPELINE_JOB_ID_PLACEHOLDER}"
    f"/{dsl.PIPELINE_TASK_ID_PLACEHOLDER}"
)

# GCPC's custom job has an input `strategy`, its scheduling strategy; a training component's
# own `strategy` (the tf.distribute one) replaces it when GCPC merges their inputs, so the
# job's payload takes the scheduling strategy as this constant (GCPC's default) instead.
SCHEDULING_STRATEGY = "STANDARD"
_SCHEDULING_STRATEGY_INPUT = '"strategy": "{{$.inputs.parameters[\'strategy\']}}"'


def never_cached(task: dsl.PipelineTask) -> dsl.PipelineTask:
    """The caching policy, for a retraining schedule: `task` always runs, never from cache.

    Vertex AI keys a step's cache on its inputs: parameter values and input
    artifact ids. That is right for a step whose result follows from its inputs,
    and wrong for one that reads or changes the world outside them: ingest reads
    a source (`source_uri`, `source_query`) whose data changes under the same
    name, and the champion, parent-model and endpoint lookups and the deployment
    read or change Vertex AI (or the local registry). Those steps go through
    here. Every other step may be cached: once ingest has run again its Dataset
    is a new artifact, so training and evaluation after it miss the cache and
    run again too. (The local runner caches nothing: kfp.local's cache is off.)
    """
    return task.set_caching_options(False)


@dataclass(frozen=True)
class TrainingResources:
    """Machines for the training step (Vertex AI only): the pipeline parameters so named."""

    train_machine_type: Channel
    train_accelerator_type: Channel
    train_accelerator_count: Channel
    train_replica_count: Channel


@dataclass(frozen=True)
class Deployment:
    """Where a blessed model goes, and how Vertex AI watches it: the pipeline parameters so
    named."""

    model_name: Channel
    registry_uri: Channel  # local registry directory (local target)
    endpoint_name: Channel  # Vertex AI endpoint display name, reused when it exists
    # Vertex AI: the account the deployed model's container runs as
    # (VERTEX_ENDPOINT_SERVICE_ACCOUNT); "": a Google-managed one
    endpoint_service_account: Channel
    serving_machine_type: Channel
    serving_min_replica_count: Channel
    serving_max_replica_count: Channel
    traffic_split: Channel  # {"0": 100}: "0" is the model being deployed
    # Vertex AI Model Monitoring on the endpoint: on or off, the share of requests sampled,
    # the hours between its runs, who gets its alerts (VERTEX_NOTIFICATION_EMAILS), and the
    # thresholds of data validation (the same for skew and drift)
    model_monitoring: Channel
    monitoring_sample_rate: Channel
    monitoring_interval_hours: Channel
    monitoring_alert_emails: Channel
    drift_threshold: Channel
    drift_thresholds: Channel


class Target(Protocol):
    name: str

    def train(
        self, component: Callable, resources: TrainingResources, **inputs: Any
    ) -> Mapping[str, Channel]:
        """Run the training component; return its outputs by name."""

    def tune(
        self, case: str, dataset: Channel, settings: Channel, study: TuningStudy, resources: Any
    ) -> Channel:
        """Run the study of `case`'s training on `dataset`; its result (trainer.tuning.result)."""

    def champion(self, model_name: Channel, registry_uri: Channel) -> Channel:
        """The location ("" if none) of `model_name`'s champion, the model now deployed, which
        validation, evaluation and monitoring compare with (`registry_uri`: the local one)."""

    def deploy(self, model: Channel, deployment: Deployment) -> None:
        """Register and serve a blessed model (called inside the blessing's dsl.If)."""

    def notifying(self, pipeline: GraphComponent) -> GraphComponent:
        """The pipeline to run: `pipeline`, or `pipeline` inside an exit handler that tells a
        person how the run ended (Vertex AI, when recipients are set)."""

    def batch_predict(self, job: batch_steps.BatchJob) -> Channel:
        """Predict the job's source with its model; the output folder (an Artifact)."""


class LocalTarget:
    name = "local"

    def train(
        self, component: Callable, resources: TrainingResources, **inputs: Any
    ) -> Mapping[str, Channel]:
        return component(**inputs).set_display_name("train").outputs

    def tune(self, case, dataset, settings, study, resources) -> Channel:
        return local_study(case, dataset, settings, study)

    def champion(self, model_name: Channel, registry_uri: Channel) -> Channel:
        task = find_local_champion(
            registry_uri=registry_uri,
            model_name=model_name,
            pipeline_run=dsl.PIPELINE_JOB_ID_PLACEHOLDER,
        )
        return never_cached(task.set_display_name("find-champion")).output

    def deploy(self, model: Channel, deployment: Deployment) -> None:
        register = register_model_locally(
            model=model, registry_uri=deployment.registry_uri, model_name=deployment.model_name
        )
        never_cached(register.set_display_name("deploy"))

    def notifying(self, pipeline: GraphComponent) -> GraphComponent:
        """Unchanged: `make run` prints the final summary and exits non-zero on a failure."""
        return pipeline

    def batch_predict(self, job: batch_steps.BatchJob) -> Channel:
        """The local registry's model, streamed through in this process tree."""
        return _uncached(*batch_steps.local_steps(job))


class VertexTarget:
    name = "vertex"

    def train(
        self, component: Callable, resources: TrainingResources, **inputs: Any
    ) -> Mapping[str, Channel]:
        """The component as a Vertex custom job; replica_count > 1 adds a worker pool.

        The worker pools are one value, built with typed counts by a step
        (worker-pools, components.worker_pools) from the machine parameters
        and passed to the job as that step's output, kfp's documented way to pass
        data between steps. The job's payload takes it whole
        (`{{$.inputs.parameters['worker_pool_specs']}}`), so the counts stay
        numbers, which Vertex writes as integers (protojson), as it does for the
        `boot_disk_size_gb: 100` of GCPC's own default pools; parameters nested
        in a constant would reach CustomJob as placeholders inside strings, which
        Vertex may fill in as text that its int32 fields refuse. Vertex sets
        TF_CONFIG and CLUSTER_SPEC on every replica of a job with more than one
        pool member. The multi-worker branch also restarts the whole job when a
        worker restarts (a MultiWorkerMirroredStrategy cluster cannot take a
        worker back; each replica resumes from its backup); dsl.OneOf hands the
        outputs of whichever branch ran to the next steps.
        """
        job = _custom_job(component)
        pools = worker_pool_specs(
            pool_template=_pool_template(job),
            machine_type=resources.train_machine_type,
            accelerator_type=resources.train_accelerator_type,
            accelerator_count=resources.train_accelerator_count,
            replica_count=resources.train_replica_count,
        ).set_display_name("worker-pools")
        job_inputs = {
            **inputs,
            "worker_pool_specs": pools.output,
            "base_output_directory": CUSTOM_JOB_OUTPUT_DIRECTORY,
        }
        with dsl.If(resources.train_replica_count > 1, name="multi-worker"):
            multi = job(**job_inputs, restart_job_on_worker_restart=True)
            multi.set_display_name("train-multi-worker")
        with dsl.Else(name="single-machine"):
            single = job(**job_inputs).set_display_name("train")
        return {
            name: dsl.OneOf(multi.outputs[name], single.outputs[name])
            for name in component.component_spec.outputs
        }

    def tune(self, case, dataset, settings, study, resources) -> Channel:
        """A HyperparameterTuningJob whose trials write under the run's task directory."""
        return vertex_study(case, dataset, settings, study, resources, CUSTOM_JOB_OUTPUT_DIRECTORY)

    def champion(self, model_name: Channel, registry_uri: Channel) -> Channel:
        task = find_vertex_champion(
            display_name=model_name, pipeline_run=dsl.PIPELINE_JOB_ID_PLACEHOLDER
        )
        return never_cached(task.set_display_name("find-champion")).output

    def deploy(self, model: Channel, deployment: Deployment) -> None:
        run = dsl.PIPELINE_JOB_ID_PLACEHOLDER
        parent = parent_model(display_name=deployment.model_name, pipeline_run=run)
        never_cached(parent.set_display_name("find-parent-model"))
        upload = ModelUploadOp(
            display_name=deployment.model_name,
            unmanaged_container_model=model,
            parent_model=parent.outputs["model"],
            version_aliases=list(CHAMPION_ALIASES),
        )
        never_cached(upload.set_display_name("upload-model"))
        endpoint = get_or_create_endpoint(display_name=deployment.endpoint_name, pipeline_run=run)
        never_cached(endpoint.set_display_name("endpoint"))
        deploy = never_cached(
            ModelDeployOp(
                model=upload.outputs["model"],
                endpoint=endpoint.outputs["endpoint"],
                deployed_model_display_name=deployment.model_name,
                dedicated_resources_machine_type=deployment.serving_machine_type,
                dedicated_resources_min_replica_count=deployment.serving_min_replica_count,
                dedicated_resources_max_replica_count=deployment.serving_max_replica_count,
                traffic_split=deployment.traffic_split,
                service_account=deployment.endpoint_service_account,
            ).set_display_name("deploy-model")
        )
        retire = undeploy_idle_models(endpoint=endpoint.outputs["endpoint"]).after(deploy)
        never_cached(retire.set_display_name("undeploy-idle-models"))
        monitor = configure_model_monitoring(
            endpoint=endpoint.outputs["endpoint"],
            registered_model=upload.outputs["model"],
            model=model,
            model_monitoring=deployment.model_monitoring,
            monitoring_sample_rate=deployment.monitoring_sample_rate,
            monitoring_interval_hours=deployment.monitoring_interval_hours,
            monitoring_alert_emails=deployment.monitoring_alert_emails,
            drift_threshold=deployment.drift_threshold,
            drift_thresholds=deployment.drift_thresholds,
        ).after(retire)  # the models left on the endpoint are the ones to watch
        never_cached(monitor.set_display_name("model-monitoring"))

    def notifying(
        self, pipeline: GraphComponent, recipients: list[str] | None = None
    ) -> GraphComponent:
        """`pipeline` inside an exit handler mailing `recipients` (None: the addresses in
        VERTEX_NOTIFICATION_EMAILS when the pipeline is built, as PIPELINE_IMAGE is read);
        `pipeline` itself when there are none, since Vertex AI documents no notification
        to nobody."""
        if recipients is None:
            recipients = notification_recipients()
        return with_exit_notification(pipeline, recipients) if recipients else pipeline

    def batch_predict(self, job: batch_steps.BatchJob) -> Channel:
        """GCPC's ModelBatchPredictOp on the Model Registry version the job names."""
        return _uncached(*batch_steps.vertex_steps(job))


def _uncached(tasks: list[dsl.PipelineTask], output: Channel) -> Channel:
    """`output`, with `tasks` never cached: they read the registry and a changing source."""
    for task in tasks:
        never_cached(task)
    return output


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


def _custom_job(component: Callable) -> Callable:
    """`component` as GCPC's custom job, run as the pipeline's own service account on its
    network (VERTEX_*), not as Vertex AI's Custom Code Service Agent.

    The job's inputs are GCPC's and the component's together: a component input of
    the same name as one of GCPC's would set that job field too, so none may have
    one, but `strategy`, whose job field is then pinned (SCHEDULING_STRATEGY).
    """
    inputs = set(component.component_spec.inputs)
    shared = sorted(inputs & set(CustomTrainingJobOp.component_spec.inputs) - {"strategy"})
    if shared:
        raise ValueError(
            f"The training component's inputs {', '.join(shared)} are also inputs of GCPC's "
            "custom job, which would take their values: rename them."
        )
    job = create_custom_training_job_from_component(
        component,
        display_name="train",
        service_account=SERVICE_ACCOUNT_PLACEHOLDER,
        network=NETWORK_PLACEHOLDER,
    )
    if "strategy" in inputs:
        args = job.component_spec.implementation.container.args
        at = args.index("--payload") + 1
        if _SCHEDULING_STRATEGY_INPUT not in args[at]:
            raise ValueError("GCPC's custom job payload no longer takes `strategy` as expected.")
        pinned = f'"strategy": "{SCHEDULING_STRATEGY}"'
        args[at] = args[at].replace(_SCHEDULING_STRATEGY_INPUT, pinned)
    return job


def _pool_template(job: Callable) -> dict:
    """The pool create_custom_training_job_from_component derived from the component (image,
    command, executor-input argument, disk), without the machine fields worker-pools sets.

    The executor-input placeholder is swapped for a marker while the template is
    worker-pools' input (see trainer.distribution.worker_pools); no other placeholder may be in it.
    """
    [pool] = copy.deepcopy(job.component_spec.inputs["worker_pool_specs"].default)
    template = {k: v for k, v in pool.items() if k not in ("machine_spec", "replica_count")}
    container = template["container_spec"]
    container["args"] = [
        EXECUTOR_INPUT_MARKER if arg == JSON_ESCAPED_EXECUTOR_INPUT else arg
        for arg in container["args"]
    ]
    placeholders = re.findall(r"\{\{\$[^}]*\}\}", json.dumps(template))
    if placeholders:
        raise ValueError(
            f"The training component's container holds kfp placeholders {placeholders}, which "
            "worker-pools' input cannot carry: pass those values as the component's inputs."
        )
    return template
