"""A seeded small problem trained with model.fit and with the custom loop, under one strategy.

    python -m tests.trainer.distribution.equivalence_job OUT.json [--strategy S] [--logical-cpus N]

The chief writes {"fit": weights, "custom": weights, "replicas": n, "kind": strategy}.
The global batch is fixed, so every strategy takes the same steps on the same
examples: the weights must agree, whichever way the batches are split.
"""

from __future__ import annotations

import argparse
import json
import os

os.environ.setdefault("TF_USE_LEGACY_KERAS", "1")

EXAMPLES, GLOBAL_BATCH, EPOCHS, SEED = 96, 16, 3, 7


def train_both(distribution) -> dict:
    """Weights after model.fit and after the custom loop, from the same seeded start."""
    import tensorflow as tf

    from trainer.distribution.custom_loop import train_custom_loop
    from trainer.distribution.sharding import shard_by_data

    strategy = distribution.strategy
    features = tf.random.stateless_uniform([EXAMPLES, 4], seed=[SEED, 0])
    labels = tf.cast(tf.reduce_sum(features, axis=1) * 1.5, tf.int64) % 3
    dataset = shard_by_data(
        tf.data.Dataset.from_tensor_slices((features, labels)).batch(GLOBAL_BATCH), "examples"
    )

    def model_and_optimizer():
        with strategy.scope():
            tf.keras.utils.set_random_seed(SEED)
            model = tf.keras.Sequential(
                [
                    tf.keras.Input([4]),
                    tf.keras.layers.Dense(8, activation="relu"),
                    tf.keras.layers.Dense(3, activation="softmax"),
                ]
            )
            return model, tf.keras.optimizers.SGD(0.5)

    def flat(model) -> list[float]:
        return [float(v) for w in model.get_weights() for v in w.ravel()]

    model, optimizer = model_and_optimizer()
    with strategy.scope():
        model.compile(optimizer, "sparse_categorical_crossentropy")
    model.fit(dataset, epochs=EPOCHS, verbose=0, shuffle=False)
    fit_weights = flat(model)

    model, optimizer = model_and_optimizer()
    loss = tf.keras.losses.SparseCategoricalCrossentropy(reduction="none")
    train_custom_loop(strategy, model, optimizer, loss, dataset, EPOCHS)
    return {
        "fit": fit_weights,
        "custom": flat(model),
        "replicas": distribution.replicas,
        "kind": distribution.choice.kind,
    }


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("out")
    parser.add_argument("--strategy", default="auto")
    parser.add_argument("--logical-cpus", type=int, default=0)
    args = parser.parse_args()

    import tensorflow as tf

    if args.logical_cpus:
        cpu = tf.config.list_physical_devices("CPU")[0]
        tf.config.set_logical_device_configuration(
            cpu, [tf.config.LogicalDeviceConfiguration()] * args.logical_cpus
        )
    from trainer.distribution.strategy import distribution_for

    distribution = distribution_for(args.strategy)
    result = train_both(distribution)
    if distribution.is_chief:
        with open(args.out, "w") as f:
            json.dump(result, f)


if __name__ == "__main__":
    main()
