"""epsim: electroporation pulse-protocol simulator.

The pipeline, one subpackage per stage (imports point down this list, never up):

* :mod:`simulator.physics` - materials and the sigma(E) laws (SI units), closed forms;
* :mod:`simulator.scenario` - TOML -> validated, immutable records;
* :mod:`simulator.meshing` - gmsh OpenCASCADE -> engine-neutral tetrahedral mesh, cache;
* :mod:`simulator.engines` - FE engines behind one interface (``embedded``, ``dolfinx``);
* :mod:`simulator.post` - coverage, volumes, cell states;
* :mod:`simulator.solve` - the pulse train and ``run(scenario) -> Result``;
* :mod:`simulator.output` - report, field files, figures, atomic output directories;
* :mod:`simulator.cli` - the ``epsim`` command, a thin layer over this API.

``errors``, ``units`` and ``memory`` sit below all of them. The names below are the public API::

    from simulator import load_scenario, run, build_report
    result = run(load_scenario("examples/needle_pair.toml"))
    print(build_report(result)["coverage"])
"""
from __future__ import annotations

import importlib

from simulator.version import __version__  # noqa: F401  (simulator.__version__)

_API = {
    "load_scenario": "simulator.scenario.loader",
    "scenario_from_dict": "simulator.scenario.loader",
    "Scenario": "simulator.scenario.records",
    "run": "simulator.solve.pipeline",
    "Result": "simulator.solve.result",
    "build_report": "simulator.output.report",
    "summary_table": "simulator.output.report",
    "write_outputs": "simulator.output.writer",
}
__all__ = sorted(_API)


def __getattr__(name: str):
    """The public API, imported on first use (``import simulator`` stays light)."""
    if name in _API:
        return getattr(importlib.import_module(_API[name]), name)
    raise AttributeError(f"module 'simulator' has no attribute {name!r}")
