"""Engines: FE solvers behind one interface, looked up by name.

Owns: the interface and records (:mod:`~simulator.engines.base`), the registry
(:mod:`~simulator.engines.registry`), the line search both engines use
(:mod:`~simulator.engines.line_search`), memory estimates
(:mod:`~simulator.engines.resources`) and the engines, ``embedded/`` (pip-only) and
``dolfinx/`` (DOLFINx, MPI). Must not: read scenarios, mesh or write files; engines take
the mesh record and per-cell arrays (SI) and return :class:`FieldSolution`.
"""
from __future__ import annotations

from simulator.engines.base import Engine, FieldSolution, PulseConfiguration, SolverSettings
from simulator.engines.registry import check_engine_name, create_engine, engine_names

__all__ = ["Engine", "FieldSolution", "PulseConfiguration", "SolverSettings", "create_engine",
           "engine_names", "check_engine_name"]
