"""The guide's custom training loop: a GradientTape train step that `strategy.run` runs per replica.

    with strategy.scope():
        model = build_model()
        optimizer = tf.keras.optimizers.SGD(0.1)
    losses = train_custom_loop(strategy, model, optimizer, loss_fn, dataset, epochs=3)

`dataset` is batched with the global batch; the strategy splits each batch
across replicas (and workers). Each replica's loss is averaged over the
global batch (`tf.nn.compute_average_loss`), so summing the replicas'
gradients gives the gradient of the global batch's mean loss, exactly as
`model.fit` does. The step runs as a `tf.function` (optionally XLA-compiled
with `jit_compile`) or eagerly, for debugging.
"""

from __future__ import annotations

from collections.abc import Callable

import tensorflow as tf

LossFn = Callable[[tf.Tensor, tf.Tensor], tf.Tensor]  # (labels, predictions) -> per-example loss


def train_custom_loop(
    strategy: tf.distribute.Strategy,
    model: tf.keras.Model,
    optimizer: tf.keras.optimizers.Optimizer,
    loss_fn: LossFn,
    dataset: tf.data.Dataset,
    epochs: int,
    use_tf_function: bool = True,
    jit_compile: bool = False,
) -> list[float]:
    """Train `model` (built in `strategy.scope()`); return the mean loss of each epoch."""
    distributed = strategy.experimental_distribute_dataset(dataset)

    def replica_step(features: tf.Tensor, labels: tf.Tensor) -> tf.Tensor:
        with tf.GradientTape() as tape:
            predictions = model(features, training=True)
            loss = tf.nn.compute_average_loss(loss_fn(labels, predictions))
            if model.losses:
                loss += tf.nn.scale_regularization_loss(tf.add_n(model.losses))
        gradients = tape.gradient(loss, model.trainable_variables)
        optimizer.apply_gradients(zip(gradients, model.trainable_variables, strict=True))
        return loss

    def train_step(features: tf.Tensor, labels: tf.Tensor) -> tf.Tensor:
        per_replica = strategy.run(replica_step, args=(features, labels))
        return strategy.reduce(tf.distribute.ReduceOp.SUM, per_replica, axis=None)

    if use_tf_function:
        train_step = tf.function(train_step, jit_compile=jit_compile)
    epoch_losses = []
    for _ in range(epochs):
        total, batches = 0.0, 0
        for features, labels in distributed:
            total += float(train_step(features, labels))
            batches += 1
        epoch_losses.append(total / max(batches, 1))
    return epoch_losses
