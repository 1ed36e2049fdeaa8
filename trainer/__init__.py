"""TensorFlow library of the project: one package per case study, shared machinery by concern.

tf.keras must be tf-keras (Keras 2): `hub.KerasLayer` fails on Keras 3
(tensorflow/hub#920) and Keras 3 `fit` fails under MultiWorkerMirroredStrategy
(keras-team/keras#20585). The switch has to be set before TensorFlow is first
imported, so it lives here, where every trainer import passes. The prediction
server does not import trainer/: it loads SavedModels with `tf.saved_model.load`,
which needs no Keras.
"""

import os

os.environ.setdefault("TF_USE_LEGACY_KERAS", "1")
