"""Where models live, locally and on Vertex AI.

The local model registry, a model's serving container spec, and the Vertex AI Model
Registry and endpoint lookups.
"""
