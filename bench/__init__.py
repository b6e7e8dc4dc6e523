"""Benchmarks against peers and limits, run by hand, never in the normal test run.

`python -m bench SCENARIO [--quick]`; see bench/README.md.
"""
