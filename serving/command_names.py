"""Names that `python -m serving` shares with its worker processes, free of TensorFlow.

The supervisor of --workers imports this module and never TensorFlow
(serving/worker_entry.py says why), so these live apart from the serving stack.
"""

PROG = "python -m serving"
STORAGE_URI_VAR = "AIP_STORAGE_URI"  # where Vertex AI tells a custom container its model is
