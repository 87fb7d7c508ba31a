"""Scenario: the TOML file read into immutable, validated records (SI units inside).

Owns: the records (:mod:`~simulator.scenario.records`), the table reader with its typed,
field-naming getters (:mod:`~simulator.scenario.table`), one reader per section
(:mod:`~simulator.scenario.sections`), cross-section geometric checks
(:mod:`~simulator.scenario.checks`) and file loading (:mod:`~simulator.scenario.loader`).
Must not: mesh, solve or write anything; every problem is a one-line
:class:`~simulator.errors.ScenarioError` naming the dotted field.
"""
from simulator.scenario.loader import load_scenario, scenario_from_dict
from simulator.scenario.records import (Generator, Layer, MeshOptions, Scenario, SolverOptions, Tissue,
                                        Tumour)

__all__ = ["load_scenario", "scenario_from_dict", "Scenario", "Tissue", "Layer", "Tumour", "MeshOptions",
           "SolverOptions", "Generator"]
