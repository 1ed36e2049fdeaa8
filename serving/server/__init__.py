"""The prediction server.

HTTP API (Vertex AI and TF Serving contracts), request formats, dynamic batching, traffic
split and hot swap.
"""
