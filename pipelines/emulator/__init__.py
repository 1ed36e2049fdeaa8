"""A local Vertex AI emulator: runs compiled Vertex pipeline YAML offline on loopback services."""
