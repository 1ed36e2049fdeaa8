"""Scoring a model: classification metrics, the champion gate, and the HTML reports."""
