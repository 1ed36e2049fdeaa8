"""Benchmarks behind `make bench` (python -m tests.bench): measured, reported, never asserted.

One module per benchmark; each has `run(workdir, quick) -> Result`. The results
are printed as tables and written to BENCHMARKS.md at the repository root.
No file here is named test_*.py, so pytest never collects them.
"""
