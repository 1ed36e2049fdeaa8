"""Vertex AI only: a training job's worker pools, built by a step from the machine parameters."""

from kfp import dsl

from components.container_images import PIPELINE_IMAGE


@dsl.component(base_image=PIPELINE_IMAGE, install_kfp_package=False)
def worker_pool_specs(
    pool_template: dict,
    machine_type: str,
    accelerator_type: str,
    accelerator_count: int,
    replica_count: int,
) -> list:
    """A training job's worker pools from the machine parameters, typed for CustomJob.

    In: pool_template (one pool without machine_spec and replica_count; see
    trainer.distribution.worker_pools), the machine parameters. Out: [chief] or [chief,
    replica_count - 1 workers] with int counts, for the job's worker_pool_specs.
    """
    from trainer.distribution.worker_pools import worker_pool_specs as build

    return build(
        pool_template,
        machine_type=machine_type,
        accelerator_type=accelerator_type,
        accelerator_count=accelerator_count,
        replica_count=replica_count,
    )
