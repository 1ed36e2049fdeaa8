"""Loopback networking that redirects unmodified Google Cloud clients to the emulator."""
