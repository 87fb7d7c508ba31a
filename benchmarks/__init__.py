"""Solver-speed benchmarks: ``epsim bench [--quick] [--json FILE]`` (see README.md, SCHEMA.md)."""
