"""Runs compiled Vertex AI pipeline specs on kfp.local's orchestrator, as Vertex AI would."""
