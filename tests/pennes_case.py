"""A small Pennes train run on either engine (the cross-engine and MPI tests of test_thermal).

Box 10 x 4 x 4 mm (960 tets), a more conductive inclusion so that the field and the heating
are not uniform, the smoothstep sigma(E) law crossed by the field, alpha = 0.02/K, perfusion,
metabolic heat and a convective skin (h = 500 W/(m^2 K), a hundred times room air, so that the
Robin term matters within the train); two pulse groups of opposite polarity at 1 kHz.
"""
from __future__ import annotations

import numpy as np

from protocols.pulses import Protocol, PulseGroup
from simulator.engines.base import SolverSettings
from simulator.meshing.mesh import skin_facets
from simulator.physics.conductivity import CellConductivity
from simulator.solve.thermal import PennesSettings, run_pennes
from structured import box_mesh

RHO_C, K, W, Q_M, H = 1050.0 * 3600.0, 0.512, 1060.0 * 3600.0 * 0.0044, 420.0, 500.0


def case_mesh():
    return box_mesh(L=(0.01, 0.004, 0.004), n=(10, 4, 4),
                    region_of=lambda c: (np.abs(c[:, 0] - 0.005) < 0.002) & (c[:, 2] > -0.002))


def run_case(engine_name: str, mesh=None):
    """(currents per group, peak, final, CEM43, pulse-end maxima, field solves) of the train."""
    from simulator.engines.registry import create_engine
    mesh = mesh or case_mesh()
    M = mesh.num_cells
    inc = mesh.cell_region == 1
    law = CellConductivity(np.where(inc, 0.6, 0.3), np.where(inc, 1.2, 0.9), np.full(M, 4e4), np.full(M, 8e4),
                           np.zeros(M, dtype=np.int64), ("smoothstep",))
    eng = create_engine(engine_name, mesh, SolverSettings(rtol=1e-12, linear_rtol=1e-13))
    heat = eng.heat_operator(np.full(M, K), np.full(M, RHO_C), np.full(M, W), skin_facets(mesh), H)
    protocol = Protocol((PulseGroup(("A",), ("B",), 700.0, 6, 100e-6, 1000.0, "A", "B"),
                         PulseGroup(("B",), ("A",), 700.0, 6, 100e-6, 1000.0, "B", "A")))
    train, hist = run_pennes(eng, protocol, law, ("A", "B"), heat, np.full(M, RHO_C), np.full(M, 0.02),
                             np.full(M, Q_M), PennesSettings(steps_per_pulse=2, max_steps_between=5,
                                                             resolve_tolerance=1e-4))
    return dict(currents=[list(g.currents) for g in train.groups], peak=hist.peak_C, final=hist.final_C,
                initial=hist.initial_C, cem43=hist.cem43_min, pulse_end_max=hist.pulse_end_max_C,
                solves=hist.field_solves, exchange=heat.exchange, capacity=heat.capacity)
