"""The vision case study's pipeline (pipeline.py) and its offline demo (demo.py)."""
