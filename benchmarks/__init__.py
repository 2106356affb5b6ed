"""Benchmarks for pln123; run them as modules, e.g. `python -m benchmarks.ami_ingest`."""
