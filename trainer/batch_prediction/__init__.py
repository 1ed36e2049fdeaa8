"""Batch prediction: instances streamed from files or BigQuery through a SavedModel's
`serving_default` signature, written in Vertex AI's batch output layout."""
