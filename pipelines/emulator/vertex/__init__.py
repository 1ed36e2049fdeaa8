"""The Vertex AI services of the emulator: jobs, models, endpoints, prediction, pipelines."""
