"""The compiled Vertex AI YAML of each case study, run to the end on the local Vertex AI emulator.

One emulator serves the module's runs, in the order a user's would go: a
first vision run deploys version 1; `make submit` runs it again on two
workers, which uploads version 2 under the same parent, moves the traffic
and undeploys version 1; the text pipeline goes to production with `make
deploy` and runs when its schedule is fired; a worker that fails fails its
run. The templates are compiled with VERTEX_NOTIFICATION_EMAILS, so every run
ends with its exit handler's email, which the emulator records. `make emulate
PIPELINE=timeseries` runs with an emulator of its own, as a user runs it,
reading BigQuery through the real client, and configures Vertex AI Model
Monitoring on its endpoint (images and texts get none: Vertex cannot read them).
Each deployed endpoint answers the real SDK's Endpoint.predict. The first vision run
tunes first: two trials, at once, as a HyperparameterTuningJob (GCPC's launcher).
Data and epochs are small: these check the wiring on Vertex's side, the
local pipeline tests check model quality.
"""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
from pathlib import Path

import pytest
import requests
from google.cloud import aiplatform
from google.cloud import aiplatform_v1 as v1

from pipelines.emulator.service import read_gcs_object, running_emulator
from pipelines.emulator.vertex.model_monitoring import recorded_jobs
from pipelines.local.gcs_emulator import upload_directory, upload_file
from pipelines.text import demo as text_demo
from tests.conftest import REPO
from tests.pipelines.vertex.conftest import IMAGE, compile_templates

pytestmark = pytest.mark.pipeline

PIPELINE_ROOT = "gs://emulator-test-root/pipelines"
DIGITS_URI = "gs://emulator-test-data/digits"
WEIGHTS_URI = "gs://emulator-test-data/base/small-base.h5"
RUN_TIMEOUT_S = 420  # below pytest-timeout, so that a hung run fails with its state
NOTIFY = "ml-team@example.com"


@pytest.fixture(scope="module")
def templates(tmp_path_factory) -> Path:
    """build/pipelines as `make compile` writes it, with PIPELINE_IMAGE set."""
    return compile_templates(tmp_path_factory.mktemp("templates"), IMAGE, notify=NOTIFY)


@pytest.fixture(scope="module")
def emulator(tmp_path_factory, digits_dir, small_base_weights):
    """The emulator, the demo data in its storage, and this process's SDK pointed at it.

    The SDK talks REST to the emulator directly; the proxy variables are set too, for the
    one call it makes elsewhere (Resource Manager's project number, over gRPC, before a
    submit), which offline would otherwise wait about 50 s for googleapis.com.
    """
    from google.cloud.aiplatform import initializer

    saved = dict(vars(initializer.global_config))
    saved_environment = dict(os.environ)
    home = tmp_path_factory.mktemp("emulator")
    with running_emulator(home, say=lambda _: None) as emulator:
        os.environ.update(emulator.client_environment)
        emulator.point_sdk()
        few = home / "few-digits"
        for folder in sorted(p for p in digits_dir.iterdir() if p.is_dir()):
            (few / folder.name).mkdir(parents=True)
            for image in sorted(folder.glob("*.png"))[:24]:
                shutil.copy(image, few / folder.name / image.name)
        upload_directory(few, DIGITS_URI)
        upload_file(small_base_weights, WEIGHTS_URI)
        yield emulator
        os.environ.clear()
        os.environ.update(saved_environment)
    vars(initializer.global_config).clear()
    vars(initializer.global_config).update(saved)


def vision_arguments(**overrides) -> dict:
    from trainer.vision.pretrain_base import DEFAULT_BASE

    return {
        "source_uri": DIGITS_URI,
        "base_model": DEFAULT_BASE,
        "base_weights": WEIGHTS_URI,
        "image_size": 32,
        "batch_size": 32,
        "head_epochs": 1,
        "fine_tune_epochs": 1,
        "fine_tune_layers": 5,
        "augment_flip": "none",
        "accuracy_threshold": 0.0,
        **overrides,
    }


def custom_jobs(emulator, display_name: str) -> list[v1.CustomJob]:
    """The CreateCustomJob requests of one training task (GCPC names the job after it)."""
    return [
        r.custom_job
        for r in emulator.state.calls("CreateCustomJob")
        if r.custom_job.display_name.startswith(display_name)
    ]


def uploads(emulator, display_name: str) -> list[v1.UploadModelRequest]:
    return [r for r in emulator.state.calls("UploadModel") if r.model.display_name == display_name]


def run(emulator, templates: Path, name: str, arguments: dict) -> v1.PipelineJob:
    job = aiplatform.PipelineJob(
        display_name=name,
        template_path=str(templates / f"{name}.yaml"),
        pipeline_root=PIPELINE_ROOT,
        parameter_values=arguments,
        enable_caching=False,
    )
    job.submit()
    return emulator.pipelines.wait(job.resource_name, RUN_TIMEOUT_S)


def cli(emulator, *args: str) -> subprocess.CompletedProcess:
    """`python -m pipelines ...` as `make submit` / `make deploy` run it, with the settings
    `make emulator` writes to env.sh."""
    env = {
        **os.environ,
        **emulator.client_settings(),
        "PIPELINE_ROOT": PIPELINE_ROOT,
        "SCHEDULE_CRON": "TZ=Etc/UTC 0 3 * * 1",
    }
    return subprocess.run(
        [sys.executable, "-m", "pipelines", *args],
        cwd=REPO, env=env, capture_output=True, text=True, timeout=RUN_TIMEOUT_S,
    )  # fmt: skip


def notifications(emulator, job: v1.PipelineJob) -> list[dict]:
    """The exit-handler emails the emulator recorded for the run."""
    path = emulator.home / "notifications" / f"{job.name.rsplit('/', 1)[-1]}.jsonl"
    return [json.loads(line) for line in path.read_text().splitlines()]


def endpoint_named(display_name: str) -> aiplatform.Endpoint:
    [endpoint] = aiplatform.Endpoint.list(filter=f'display_name="{display_name}"')
    return endpoint


def digit_instance(digits_dir: Path) -> dict:
    import base64

    image = min(digits_dir.glob("digit_3/*.png"))
    return {"b64": base64.b64encode(image.read_bytes()).decode()}


# The first run's study: two trials of two head sizes, both at once.
TUNING = {
    "tuning_trials": 2,
    "tuning_parallel_trials": 2,
    "tuning_space": {"head_units": {"values": [8, 16]}},
}


@pytest.fixture(scope="module")
def first_vision_run(emulator, templates) -> v1.PipelineJob:
    return run(emulator, templates, "vision", vision_arguments(**TUNING))


def test_vision_runs_to_a_served_endpoint(emulator, first_vision_run, digits_dir):
    assert first_vision_run.state == v1.PipelineState.PIPELINE_STATE_SUCCEEDED, (
        first_vision_run.error.message
    )
    job = custom_jobs(emulator, "train")[0]
    [pool] = job.job_spec.worker_pool_specs
    assert pool.replica_count == 1 and pool.machine_spec.accelerator_count == 0
    assert job.job_spec.base_output_directory.output_uri_prefix.startswith(f"{PIPELINE_ROOT}/")
    upload = uploads(emulator, "vision")[0]
    assert upload.model.artifact_uri.startswith(f"{PIPELINE_ROOT}/")
    assert not upload.parent_model
    answer = endpoint_named("vision").predict(instances=[digit_instance(digits_dir)])
    assert answer.model_version_id == "1"
    [prediction] = answer.predictions
    assert prediction["label"] in {f"digit_{d}" for d in range(5)}
    [notification] = notifications(emulator, first_vision_run)
    assert (notification["recipients"], notification["state"]) == ([NOTIFY], "SUCCEEDED")
    assert not emulator.state.calls("CreateModelDeploymentMonitoringJob")  # an image: no job


def test_the_first_vision_run_tuned_on_a_hyperparameter_tuning_job(emulator, first_vision_run):
    assert first_vision_run.state == v1.PipelineState.PIPELINE_STATE_SUCCEEDED
    [request] = emulator.state.calls("CreateHyperparameterTuningJob")
    job = request.hyperparameter_tuning_job
    [metric] = job.study_spec.metrics
    assert (metric.metric_id, metric.goal.name) == ("val_accuracy", "MAXIMIZE")
    [parameter] = job.study_spec.parameters
    assert parameter.parameter_id == "head_units"
    assert list(parameter.discrete_value_spec.values) == [8, 16]
    assert (job.max_trial_count, job.parallel_trial_count, job.max_failed_trial_count) == (2, 2, 2)
    [pool] = job.trial_job_spec.worker_pool_specs
    assert list(pool.container_spec.command) == ["python3", "-m", "trainer.task", "vision"]
    args = list(pool.container_spec.args)
    assert args[args.index("--dataset-dir") + 1].startswith(f"{PIPELINE_ROOT}/")
    assert args[-2:] == ["--hypertune-metric", "val_accuracy"] and "--head-epochs=1" in args
    assert job.trial_job_spec.base_output_directory.output_uri_prefix.startswith(PIPELINE_ROOT)
    [ran] = aiplatform.HyperparameterTuningJob.list()
    assert [t.state.name for t in ran.trials] == ["SUCCEEDED", "SUCCEEDED"]
    # training took the best trial's head size, and the model keeps the study
    upload = uploads(emulator, "vision")[0]
    metadata = json.loads(
        read_gcs_object(emulator.fuse, f"{upload.model.artifact_uri}/metadata.json")
    )
    tuning = metadata["tuning"]
    assert len(tuning["trials"]) == 2 and tuning["metric"] == "val_accuracy"
    assert metadata["training_params"]["head_units"] == tuning["best"]["head_units"]


def test_make_submit_runs_two_workers_and_replaces_the_deployed_version(
    emulator, templates, first_vision_run, digits_dir
):
    # Small batches and three head epochs: with one step an epoch (the tiny demo data over a
    # global batch of two replicas) the challenger stays at chance and may score 0.
    arguments = vision_arguments(
        train_replica_count=2, regression_tolerance=0.99, batch_size=8, head_epochs=3
    )
    sets = [f"--set={key}={value}" for key, value in arguments.items()]
    result = cli(
        emulator, "submit", "vision", f"--template-dir={templates}", *sets, "--wait",
        "--poll-seconds=1",
    )  # fmt: skip
    assert result.returncode == 0, result.stdout[-3000:] + result.stderr[-3000:]
    assert "PIPELINE_STATE_SUCCEEDED" in result.stdout
    second = custom_jobs(emulator, "train")[-1]
    assert [p.replica_count for p in second.job_spec.worker_pool_specs] == [1, 1]
    assert second.job_spec.scheduling.restart_job_on_worker_restart
    jobs = aiplatform.CustomJob.list(filter=f'display_name="{second.display_name}"')
    latest = max(jobs, key=lambda job: job.create_time)
    logs = emulator.home / "logs" / latest.name
    for replica in ("workerpool0-0", "workerpool1-0"):  # one cluster of two, not two models
        log = (logs / f"{replica}.log").read_text()
        assert "Strategy: MultiWorkerMirroredStrategy" in log and "2 replica(s) in sync" in log
    [model] = aiplatform.Model.list(filter='display_name="vision"')
    # Empty if the gate turned the challenger down: its reason is in the evaluate step's log.
    last_upload = uploads(emulator, "vision")[-1]
    assert last_upload.parent_model == model.resource_name, sorted(
        line for log in (emulator.home / "logs").rglob("*.log")
        for line in log.read_text(errors="replace").splitlines() if "tolerance" in line
    )  # fmt: skip
    # evaluation compared with the champion, found by its alias
    assert any(r.name.endswith("@champion") for r in emulator.state.calls("GetModel"))
    champion = aiplatform.Model(f"{model.resource_name}@champion")
    assert champion.version_id == "2"
    endpoint = endpoint_named("vision")
    [deployed] = endpoint.list_models()  # version 1 was undeployed: it got no traffic
    assert endpoint.traffic_split == {deployed.id: 100}
    assert emulator.state.calls("UndeployModel")
    answer = endpoint.predict(instances=[digit_instance(digits_dir)])
    assert answer.model_version_id == "2"


def test_make_emulate_runs_timeseries_on_bigquery_to_an_answering_endpoint(tmp_path):
    """`make emulate PIPELINE=timeseries` as a user runs it: its own emulator, the demo query
    on the emulator's BigQuery through the real client, and the printed endpoint's answer."""
    quick = {"window": 14, "horizon": 3, "lstm_units": 16, "epochs": 4, "cv_folds": 0,
             "learning_rate": 0.01, "baseline_margin": 0.0,
             "monitoring_alert_emails": json.dumps([NOTIFY])}  # fmt: skip
    home = tmp_path / "emulator"
    result = subprocess.run(
        [sys.executable, "-m", "pipelines", "emulate", "timeseries", f"--home={home}",
         "--no-serve", *(f"--set={key}={value}" for key, value in quick.items())],
        cwd=REPO, capture_output=True, text=True, timeout=RUN_TIMEOUT_S,
    )  # fmt: skip
    assert result.returncode == 0, result.stdout[-3000:] + result.stderr[-3000:]
    assert "PIPELINE_STATE_SUCCEEDED" in result.stdout
    [manifest] = (home / "gcs").glob("*/*/*/ingest-*/dataset/manifest.json")
    assert json.loads(manifest.read_text())["engine"] == "bigquery"
    endpoint_line = next(line for line in result.stdout.splitlines() if "Endpoint:" in line)
    assert "(forecaster)" in endpoint_line
    answer = next(line for line in result.stdout.splitlines() if "answer:" in line)
    [forecast] = json.loads(answer.split("answer:", 1)[1])
    assert len(forecast) == 3 and all(-30 < value < 50 for value in forecast)
    # the deploy step configured Vertex AI Model Monitoring: each of the 14 window steps
    [job] = recorded_jobs(home / "monitoring")
    [objective] = job["modelDeploymentMonitoringObjectiveConfigs"]
    config = objective["objectiveConfig"]
    lags = {f"temp_max_lag_{k}": {"value": 0.3} for k in range(1, 15)}  # drift_threshold's
    assert config["predictionDriftDetectionConfig"]["driftThresholds"] == lags
    assert config["trainingPredictionSkewDetectionConfig"]["skewThresholds"] == lags
    training = config["trainingDataset"]["gcsSource"]["uris"][0]
    header = (home / "gcs" / training.removeprefix("gs://")).read_text().splitlines()[0]
    assert header.startswith("temp_max_lag_14,") and header.endswith(",temp_max_lag_1")
    assert job["modelMonitoringAlertConfig"]["emailAlertConfig"]["userEmails"] == [NOTIFY]
    assert job["modelDeploymentMonitoringScheduleConfig"]["monitorInterval"] == "86400s"


def test_make_deploy_schedules_text_and_a_fired_schedule_deploys_it(emulator, templates):
    arguments = text_demo.emulator_arguments(
        REPO / "build", {"epochs": 2, "accuracy_threshold": 0.0}
    )
    sets = [f"--set={key}={value}" for key, value in arguments.items()]
    result = cli(emulator, "deploy", "text", f"--template-dir={templates}", *sets)
    assert result.returncode == 0, result.stdout[-3000:] + result.stderr[-3000:]
    [schedule] = aiplatform.PipelineJobSchedule.list(filter='display_name="text-schedule"')
    fired = requests.post(f"{emulator.rest_url}/emulator/v1/{schedule.resource_name}:runNow")
    assert fired.status_code == 200, fired.text
    job = emulator.pipelines.wait(fired.json()["name"], RUN_TIMEOUT_S)
    assert job.state == v1.PipelineState.PIPELINE_STATE_SUCCEEDED, job.error.message
    assert job.schedule_name == schedule.resource_name
    answer = endpoint_named("text").predict(instances=["my parcel never arrived"])
    [prediction] = answer.predictions
    assert prediction["label"] in prediction["class_names"]


def test_a_failing_worker_fails_the_run_with_its_error(emulator, templates):
    job = run(emulator, templates, "vision", vision_arguments(base_model="no_such_network"))
    assert job.state == v1.PipelineState.PIPELINE_STATE_FAILED
    assert "workerpool0-0 exited with a non-zero status" in job.error.message
    assert "no_such_network" in job.error.message
    [notification] = notifications(emulator, job)  # the exit handler ran after the failure
    assert notification["state"] == "FAILED" and notification["recipients"] == [NOTIFY]
    assert notification["failed_tasks"][0] == "train"
