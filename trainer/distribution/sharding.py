"""How each worker gets its share of the training data.

- Files (images): each worker reads only its own subset of the files
  (file-based sharding), through `distribute_datasets_from_function`. Each
  worker's shard repeats and an epoch is `steps_per_epoch` global batches, so
  workers whose shards differ by a file still take the same number of steps.
- In-memory examples (windows, texts): data-based auto-sharding; every worker
  builds the same pipeline and keeps its part of each global batch.

On one worker neither applies: the dataset is batched with the global batch
and Keras splits each batch across the local replicas.
"""

from __future__ import annotations

import logging
import math
from collections.abc import Callable

import tensorflow as tf

from trainer.distribution.strategy import Distribution

log = logging.getLogger(__name__)

# (paths, labels, per-worker batch size) -> a finite, batched dataset of those files
MakeFileDataset = Callable[[list[str], list[int], int], tf.data.Dataset]


def shard_by_data(dataset: tf.data.Dataset, what: str) -> tf.data.Dataset:
    """`dataset` (batched with the global batch) with data-based auto-sharding; logged."""
    options = tf.data.Options()
    options.experimental_distribute.auto_shard_policy = tf.data.experimental.AutoShardPolicy.DATA
    log.info("%s: auto-shard policy DATA (each worker keeps its part of every batch)", what)
    return dataset.with_options(options)


def shard_by_file(
    distribution: Distribution,
    paths: list[str],
    labels: list[int],
    global_batch: int,
    make: MakeFileDataset,
    what: str,
) -> tuple[tf.data.Dataset | tf.distribute.DistributedDataset, int | None]:
    """(dataset, steps per epoch): each worker reads its own files; None steps on one worker."""
    workers = distribution.cluster.workers
    if workers == 1:
        log.info("%s: %d files, one worker reads them all", what, len(paths))
        return make(paths, labels, global_batch), None
    if len(paths) < workers:
        raise ValueError(f"{what}: {len(paths)} files cannot be shared by {workers} workers.")

    def per_worker(context: tf.distribute.InputContext) -> tf.data.Dataset:
        index, count = context.input_pipeline_id, context.num_input_pipelines
        own_paths, own_labels = paths[index::count], labels[index::count]
        log.info(
            "%s: sharded by file: worker %d of %d reads %d of %d files",
            what,
            index,
            count,
            len(own_paths),
            len(paths),
        )
        per_replica = context.get_per_replica_batch_size(global_batch)
        return make(own_paths, own_labels, per_replica).repeat()

    steps = math.ceil(len(paths) / global_batch)
    return distribution.strategy.distribute_datasets_from_function(per_worker), steps
