"""The record of a run: everything :func:`simulator.solve.pipeline.run` produced (SI units)."""
from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np

from simulator.meshing.mesh import Mesh
from simulator.post.coverage import TumourCoverage
from simulator.scenario import Scenario
from simulator.solve.train import TrainResult


@dataclass
class Result:
    """Everything a run produced (SI units)."""

    scenario: Scenario
    mesh: Mesh
    train: TrainResult
    tumours: list[TumourCoverage]
    volumes: dict[str, float]
    E_rev: np.ndarray               # (M,) V/m per cell
    E_irr: np.ndarray
    engine: str
    dofs: int
    mesh_from_cache: bool
    timings: dict[str, float] = field(default_factory=dict)
    zones: list = field(default_factory=list)          # simulator.post.zones.Zone
    kill_probability: np.ndarray | None = None         # (M, Q) cell-kill model, None without one
    thermal: object | None = None                      # solve.thermal.ThermalHistory (Pennes), else None
    accuracy: object | None = None  # simulator.solve.accuracy.Accuracy when [mesh] accuracy > 0
    recovered: object | None = None  # simulator.post.above.RecoveredField of train.E_max (run() builds it)

    def recovered_field(self):
        """The recovered field of ``train.E_max`` (post.above), the measure of every volume
        above a threshold: the one run() built for coverage and volumes, else built once here."""
        if self.recovered is None:
            from simulator.post.above import RecoveredField
            self.recovered = RecoveredField(self.mesh, self.train.E_max, self.train.weights)
        return self.recovered

    @property
    def covered(self) -> bool | None:
        return None if not self.tumours else all(t.covered for t in self.tumours)
