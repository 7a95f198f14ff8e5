"""Benchmarks B1-B7 (targets: docs/PERFORMANCE.md): ``python -m bench --size quick``.

Every figure is a ratio against a baseline measured in the same run, on the same machine and
database. Never part of the test suite.
"""
