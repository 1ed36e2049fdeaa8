"""How training spreads over devices and machines.

Strategy, cluster, data sharding, resumable training stages, the custom loop, Vertex AI
worker pools and job directories.
"""
