"""TensorFlow library of the project: data, models, training, evaluation.

tf.keras must be tf-keras (Keras 2): `hub.KerasLayer` and multi-worker `fit`
only work there (see DESIGN.md). The switch has to be set before TensorFlow is
first imported, so it lives here, where every trainer import passes.
"""

import os

os.environ.setdefault("TF_USE_LEGACY_KERAS", "1")
