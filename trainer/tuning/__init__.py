"""Hyperparameter tuning: search spaces, the trial's metric report, and the local study runner.

No TensorFlow here: a trial is the case study's own `python -m trainer.task` in its own
process, and each case declares its search space and metric in `trainer/<case>/tuning.py`.
"""
