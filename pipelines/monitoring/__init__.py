"""Monitoring of served traffic: `python -m pipelines monitor` and the monitoring pipeline."""
