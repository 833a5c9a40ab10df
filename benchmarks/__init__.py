"""Benchmarks of the BTU scheduler daemon: ``python benchmarks/run.py [--quick]``.

See docs/performance.md for what each number means and the results of the last run.
"""
