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
CLEARLY_TOO_BIG = 4.0     # the meshing guard refuses an estimate above this x what fits


def estimate_bytes(num_cells: int, degree: int) -> float:
    """Estimated peak memory (bytes) of the embedded engine for a mesh of ``num_cells`` tets."""
    return BASELINE_BYTES + BYTES_PER_CELL.get(degree, BYTES_PER_CELL[2]) * num_cells


def memory_limit(limit_gb: float | None) -> tuple[float, str]:
    """The byte limit (the smaller of --max-memory, ``limit_gb`` in GB, and the available
    memory) and its name."""
    available = psutil.virtual_memory().available
    if limit_gb is not None and limit_gb * 1e9 < available:
        return limit_gb * 1e9, f"--max-memory {limit_gb:g} GB"
    return available, f"the {available / 1e9:.1f} GB available"


def check_mesh_budget(scenario, degree: int, limit_gb: float | None = None) -> float:
    """Before meshing: raise ResourceError when the cells estimated from the size field
    (:mod:`simulator.meshing.estimate`) would not fit the memory limit, naming the mesh size
    that would (found by re-estimating with it). Returns the estimated cell count."""

    from simulator.meshing.estimate import estimate_cells, needle_cells
    from simulator.meshing.inputs import mesh_input
    limit, what = memory_limit(limit_gb)
    fit = (limit - BASELINE_BYTES) / BYTES_PER_CELL.get(degree, BYTES_PER_CELL[2])
    if fit < 1000:
        raise ResourceError("mesh.size_mm", f"no mesh fits in {what}: epsim itself needs about "
                            f"{BASELINE_BYTES / 1e9:.1f} GB")
    mi = mesh_input(scenario)
    # the estimate is within ~10 % on real meshes (25 % on tiny ones): refuse before meshing only
    # what is clearly too big, and leave the rest to the exact check after meshing
    cells = estimate_cells(mi, limit=CLEARLY_TOO_BIG * fit)
    if cells <= CLEARLY_TOO_BIG * fit:
        return cells
    found = suggest_size(scenario, fit, near=needle_cells(mi) > 0.5 * cells)
    if found is None:
        raise ResourceError("mesh.size_mm", f"the mesh would have at least {cells:.2g} cells (estimated from the "
                            f"size field before meshing), more than fit in {what} with any one coarser size; "
                            "coarsen mesh.size_mm and mesh.contact_size_mm together")
    key, size_mm, now_mm = found
    raise ResourceError(key, f"the mesh would have at least {cells:.2g} cells (estimated from the size field "
                        f"before meshing), needing {estimate_bytes(cells, degree) / 1e9:.1f} GB or more, over "
                        f"{what}; {key} >= {size_mm:g} would fit (now {now_mm:g})")


def suggest_size(scenario, fit: float, near: bool = False) -> tuple[str, float, float] | None:
    """(key, size in mm, current size in mm) of one mesh size that, made that coarse, gives an
    estimated mesh of half ``fit`` cells (margin for the estimate's error); the contact size
    first when ``near`` (the needles' near field dominates); None if none up to 100 mm does."""
    import dataclasses

    from simulator.meshing.estimate import estimate_cells
    from simulator.meshing.inputs import mesh_input
    mi = mesh_input(scenario)
    contact = scenario.mesh.contact_size or (min(mi.sizes.contact.values()) if mi.sizes.contact else None)
    options = [("contact_size", contact), ("size", scenario.mesh.size)]
    if not near:
        options.reverse()
    for field, value in options:
        if value is None:
            continue
        cap = 0.1 / value                                   # 100 mm, the loader's limit

        def too_big(f: float) -> bool:
            changed = dataclasses.replace(scenario, mesh=dataclasses.replace(scenario.mesh, **{field: value * f}))
            return estimate_cells(mesh_input(changed), limit=0.5 * fit) > 0.5 * fit
        if too_big(cap):
            continue
        lo, hi = 1.0, cap
        for _ in range(12):
            mid = math.sqrt(lo * hi)
            lo, hi = (mid, hi) if too_big(mid) else (lo, mid)
        return f"mesh.{field}_mm", _round_up(value * hi / MM), value / MM
    return None


def _round_up(x: float) -> float:
    """x rounded up to 2 significant digits."""
    step = 10.0 ** (math.floor(math.log10(x)) - 1)
    return math.ceil(x / step - 1e-9) * step


def check_memory(mesh: Mesh, degree: int, limit_gb: float | None = None, mesh_size: float | None = None,
                 scenario=None) -> float:
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
        elif scenario is not None and (found := suggest_size(scenario, fit_cells)) is not None:
            hint = f"; {found[0]} >= {found[1]:g} would fit"      # re-estimated from the size field
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
