"""Case study 3: text classification on a TensorFlow Hub embedding.

Config, ingest, embedding, model, training, export, evaluation and demo data.
"""
