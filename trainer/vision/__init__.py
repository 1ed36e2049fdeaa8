"""Case study 1: image classification with transfer learning.

Config, ingest, tf.data pipeline, model, training, export, evaluation and demo data.
"""
