"""Benchmark of the report queries on a large demo store: `python -m bench --help`."""
