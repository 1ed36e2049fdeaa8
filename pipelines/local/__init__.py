"""Offline stand-ins the local runs use in place of Google Cloud."""
