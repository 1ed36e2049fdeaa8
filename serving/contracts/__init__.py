"""The artifact contracts that trainer/, the registry and the server share.

Errors, model metadata, artifact directories, splits and storage paths. Nothing here
imports TensorFlow or any other package of the project.
"""
