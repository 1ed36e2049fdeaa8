"""Vertex AI side of the CLI: settings from the environment, submission, scheduling."""
