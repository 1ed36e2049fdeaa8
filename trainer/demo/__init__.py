"""Demo data the project makes offline, so `make run` needs no downloads."""
