"""Resource guard: estimate the memory a solve needs from the mesh, refuse what cannot fit."""
from __future__ import annotations

import math

import psutil

from simulator.errors import ResourceError
from simulator.meshing.mesh import Mesh
from simulator.units import MM

# Bytes per tetrahedron measured on the embedded engine (peak RSS over a needle-pair solve,
# benchmarks/): mesh, basis gradients, edge map, reduced-system structure, CSR matrices, AMG
# hierarchy, Newton vectors, train arrays, blocked temporaries. P1: needle-pair-l (1.03e6 DOFs,
# 6.33e6 cells) peaked at 1900 MiB with the mesh built in the same process (meshing itself
# peaks at 1179 MiB): (1.992e9 - BASELINE) / 6.33e6 = 267 -> 270 (benchmarks/CHANGES.md,
# "Memory, round 2").
# P2: not re-measured since the edge-based P1 assembly (old estimate kept).
BYTES_PER_CELL = {1: 270.0, 2: 9000.0}
BASELINE_BYTES = 300e6


def estimate_bytes(num_cells: int, degree: int) -> float:
    """Estimated peak memory (bytes) of the embedded engine for a mesh of ``num_cells`` tets."""
    return BASELINE_BYTES + BYTES_PER_CELL.get(degree, BYTES_PER_CELL[2]) * num_cells


def _limit(limit_gb: float | None) -> tuple[float, str]:
    """The byte limit (the smaller of --max-memory and the available memory) and its name."""
    available = psutil.virtual_memory().available
    if limit_gb is not None and limit_gb * 1e9 < available:
        return limit_gb * 1e9, f"--max-memory {limit_gb:g} GB"
    return available, f"the {available / 1e9:.1f} GB available"


def check_mesh_budget(scenario, degree: int, limit_gb: float | None = None) -> float:
    """Before meshing: raise ResourceError when the cells estimated from the size field
    (:mod:`simulator.meshing.estimate`) would not fit the memory limit, naming the mesh size
    that would (found by re-estimating with it). Returns the estimated cell count."""
    import dataclasses

    from simulator.meshing.estimate import estimate_cells, needle_cells
    from simulator.meshing.inputs import mesh_input
    limit, what = _limit(limit_gb)
    fit = (limit - BASELINE_BYTES) / BYTES_PER_CELL.get(degree, BYTES_PER_CELL[2])
    if fit < 1000:
        raise ResourceError("--max-memory", f"no mesh fits in {what}: epsim itself needs about "
                            f"{BASELINE_BYTES / 1e9:.1f} GB")
    mi = mesh_input(scenario)
    cells = estimate_cells(mi, limit=fit)
    if cells <= fit:
        return cells
    # the user's fine contacts, or the element size, is what to make coarser
    near = scenario.mesh.contact_size is not None and needle_cells(mi) > 0.5 * cells
    key, field, value = ("mesh.contact_size_mm", "contact_size", scenario.mesh.contact_size) if near \
        else ("mesh.size_mm", "size", scenario.mesh.size)

    def too_big(f: float) -> bool:
        changed = dataclasses.replace(scenario, mesh=dataclasses.replace(scenario.mesh, **{field: value * f}))
        return estimate_cells(mesh_input(changed), limit=0.9 * fit) > 0.9 * fit
    lo, hi = 1.0, 2.0
    while too_big(hi) and hi < 1e4:
        lo, hi = hi, 2 * hi
    for _ in range(5):
        mid = math.sqrt(lo * hi)
        lo, hi = (mid, hi) if too_big(mid) else (lo, mid)
    raise ResourceError(key, f"the mesh would have at least {cells:.2g} cells (estimated from the size field "
                        f"before meshing), needing {estimate_bytes(cells, degree) / 1e9:.1f} GB or more, over "
                        f"{what}; {key} >= {_round_up(value * hi / MM):g} would fit (now {value / MM:g})")


def _round_up(x: float) -> float:
    """x rounded up to 2 significant digits."""
    step = 10.0 ** (math.floor(math.log10(x)) - 1)
    return math.ceil(x / step - 1e-9) * step


def check_memory(mesh: Mesh, degree: int, limit_gb: float | None = None, mesh_size: float | None = None) -> float:
    """Raise ResourceError when the estimate exceeds the limit or the available memory.

    Returns the estimate in bytes. ``mesh_size`` (m) lets the message suggest a size that fits.
    """
    need = estimate_bytes(mesh.num_cells, degree)
    available = psutil.virtual_memory().available
    limit = available if limit_gb is None else min(available, limit_gb * 1e9)
    if need > limit:
        what = f"--max-memory {limit_gb:g} GB" if limit_gb is not None and limit_gb * 1e9 < available \
            else f"the {available / 1e9:.1f} GB available"
        hint = ""
        fit_cells = (limit - BASELINE_BYTES) / BYTES_PER_CELL.get(degree, BYTES_PER_CELL[2])
        if fit_cells < 1000:
            hint = f"; no mesh fits: epsim itself needs about {BASELINE_BYTES / 1e9:.1f} GB"
        elif mesh_size:
            # cells ~ size^-3 in the bulk but only ~ size^-2 where surfaces (contacts, tumour,
            # layers) set the size, as in small blocks: suggest with the conservative exponent
            # 1/2 and round up (2 significant digits) so that the suggestion does fit
            size_mm = mesh_size / MM * (mesh.num_cells / fit_cells) ** (1 / 2)
            step = 10.0 ** (math.floor(math.log10(size_mm)) - 1)
            hint = f"; mesh.size_mm >= {math.ceil(size_mm / step) * step:.3g} would fit"
        raise ResourceError("mesh.size_mm", f"the mesh ({mesh.num_cells} cells, P{degree}) needs about "
                                            f"{need / 1e9:.1f} GB, more than {what}{hint}")
    return need
