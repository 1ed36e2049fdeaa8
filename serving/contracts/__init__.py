"""The artifact contracts that trainer/, the registry and the server share.

Errors, model metadata, artifact directories, splits, storage paths (gs:// or
local) and the log format. Nothing here imports TensorFlow or any other package
of the project.
"""
