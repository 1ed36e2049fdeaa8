"""What Vertex AI Model Monitoring (v1) watches of a deployed model, planned from its data baseline.

Vertex reads the fields of each prediction instance as they are sent (an object's
keys, or an array's positions, as an analysis instance schema names them) and
compares their distributions with a training dataset (skew) and with earlier
traffic (drift). It computes no derived features: an image's brightness or a
text's length, which the project's own monitoring compares, are not among them.
Each case study says in `trainer/<case>/vertex_monitoring.py` which instance fields
Vertex can watch and which baseline features it cannot; `plan.py` turns that, the
pipeline's thresholds and the baseline's statistics into the monitoring job's inputs.
"""
