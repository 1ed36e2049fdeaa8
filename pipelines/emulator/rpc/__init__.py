"""The transport layer: one table of emulated API methods served over gRPC and REST."""
