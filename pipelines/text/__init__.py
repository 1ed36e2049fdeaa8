"""The text case study's pipeline (pipeline.py) and its offline demo (demo.py)."""
