"""A custom job's worker pools as local processes, with the environment Vertex AI sets.

Each replica runs its container's command in this Python environment (there
is no container engine here). A job with more than one replica gets
CLUSTER_SPEC and TF_CONFIG as Vertex sets them, on 127.0.0.1 ports; a base
output directory gives AIP_MODEL_DIR, AIP_CHECKPOINT_DIR and
AIP_TENSORBOARD_LOG_DIR. The first replica to fail stops the others, and the
job fails with its exit status and the tail of its log.
"""

from __future__ import annotations

import json
import os
import subprocess
import threading
from collections import deque
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path

from google.cloud import aiplatform_v1

from pipelines.emulator import processes as processes_module
from pipelines.emulator.orchestrator.container_tasks import local_command
from trainer.launch import HOST, free_ports

_TAIL_LINES = 30
# Vertex's TF_CONFIG task types, by worker pool (chief, workers, parameter servers, evaluators).
_TF_ROLES = ("chief", "worker", "ps", "evaluator")


class ReplicaFailed(Exception):
    """A replica exited non-zero; the message is Vertex's, with the log's tail."""


@dataclass(frozen=True)
class Replica:
    pool: int
    index: int
    address: str

    @property
    def name(self) -> str:
        return f"workerpool{self.pool}-{self.index}"


def replicas(pools: list[aiplatform_v1.WorkerPoolSpec]) -> list[Replica]:
    counts = [int(p.replica_count) for p in pools]
    ports = iter(free_ports(sum(counts)))
    return [
        Replica(pool, index, f"{HOST}:{next(ports)}")
        for pool, count in enumerate(counts)
        for index in range(count)
    ]


def replica_environment(
    job: aiplatform_v1.CustomJob, replica: Replica, cluster: list[Replica]
) -> dict[str, str]:
    """The variables Vertex AI sets in one replica's container."""
    spec = job.job_spec
    env = {"CLOUD_ML_JOB_ID": job.name.rsplit("/", 1)[-1], "AIP_JOB_NAME": job.name}
    prefix = spec.base_output_directory.output_uri_prefix.rstrip("/")
    if prefix:
        env.update(
            AIP_MODEL_DIR=f"{prefix}/model/",
            AIP_CHECKPOINT_DIR=f"{prefix}/checkpoints/",
            AIP_TENSORBOARD_LOG_DIR=f"{prefix}/logs/",
        )
    if len(cluster) > 1:
        pools: dict[str, list[str]] = {}
        for member in cluster:
            pools.setdefault(f"workerpool{member.pool}", []).append(member.address)
        task = {"type": f"workerpool{replica.pool}", "index": replica.index, "trial": ""}
        env["CLUSTER_SPEC"] = json.dumps(
            {"cluster": pools, "environment": "cloud", "task": task, "job": _job_json(job)}
        )
        roles = {_TF_ROLES[int(k[len("workerpool") :])]: v for k, v in pools.items()}
        env["TF_CONFIG"] = json.dumps(
            {
                "cluster": roles,
                "task": {"type": _TF_ROLES[replica.pool], "index": replica.index, "trial": ""},
                "environment": "cloud",
            }
        )
    return env


def run_replicas(
    job: aiplatform_v1.CustomJob,
    base_environment: Mapping[str, str],
    log_dir: Path,
    cancelled: threading.Event,
) -> None:
    """Run every replica to its end, each logging to log_dir/<replica>.log; raise
    ReplicaFailed for the first that fails."""
    pools = list(job.job_spec.worker_pool_specs)
    cluster = replicas(pools)
    log_dir.mkdir(parents=True, exist_ok=True)
    processes: dict[Replica, subprocess.Popen] = {}
    tails: dict[Replica, deque] = {}
    readers = []
    try:
        for replica in cluster:
            container = pools[replica.pool].container_spec
            env = {**base_environment, **{e.name: e.value for e in container.env}}
            env.update(replica_environment(job, replica, cluster))
            process = processes_module.start(
                local_command([*container.command, *container.args]),
                env={**os.environ, **env},
                stdout=subprocess.PIPE,
                stderr=subprocess.STDOUT,
                text=True,
                errors="replace",
            )
            processes[replica] = process
            tails[replica] = deque(maxlen=_TAIL_LINES)
            reader = threading.Thread(
                target=_stream,
                args=(process, log_dir / f"{replica.name}.log", tails[replica]),
                daemon=True,
            )
            reader.start()
            readers.append(reader)
        _wait(processes, tails, cancelled)
    finally:
        processes_module.stop(processes.values())
        for reader in readers:
            reader.join(timeout=5)


def _wait(processes: dict, tails: dict, cancelled: threading.Event) -> None:
    running = dict(processes)
    while running:
        if cancelled.is_set():
            return
        for replica, process in list(running.items()):
            code = process.poll()
            if code is None:
                continue
            del running[replica]
            if code != 0:
                tail = "\n".join(tails[replica])
                raise ReplicaFailed(
                    f"The replica {replica.name} exited with a non-zero status of {code}. "
                    f"Termination reason: Error. Last lines of its log:\n{tail}"
                )
        cancelled.wait(0.2)


def _stream(process, log_path: Path, tail: deque) -> None:
    with log_path.open("w") as log:
        for line in process.stdout:
            log.write(line)
            log.flush()
            tail.append(line.rstrip())


def _job_json(job: aiplatform_v1.CustomJob) -> dict:
    return json.loads(aiplatform_v1.CustomJobSpec.to_json(job.job_spec))
