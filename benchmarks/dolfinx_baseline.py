"""The needle-pair problem written the plain DOLFINx way: the baseline epsim is measured against.

gmsh (OpenCASCADE) block minus two needles, a distance-threshold size field,
``dolfinx.io.gmshio.model_to_mesh``; P1, sigma(E) smoothstep per cell (DG0), damped Picard
(damping 0.5): every iteration re-assembles and re-solves a ``LinearProblem`` (CG +
hypre BoomerAMG, rtol 1e-10), stopping on the same residual test as epsim
(|F_free| <= rtol |F_Dirichlet|, rtol 1e-8). Written for DOLFINx 0.5.2 (Debian bookworm).

Run by benchmarks/suite.py under an interpreter that imports dolfinx (``/usr/bin/python3``
on Debian), or by hand::

    python3 benchmarks/dolfinx_baseline.py --size 0.3 --json out.json
    python3 benchmarks/dolfinx_baseline.py --npz mesh.npz --json out.json   # epsim's mesh

``--gmsh-path DIR`` appends DIR to sys.path when this interpreter has no gmsh module
(e.g. the epsim venv's site-packages; appended, so the interpreter's own numpy wins).
Prints one JSON record (times in s, answer in SI/mm3).
"""
from __future__ import annotations

import argparse
import json
import math
import resource
import sys
import time

# problem data: benchmarks/cases.py needle-pair (muscle, 730 V, needles 0.7 mm, 7.3 mm apart, 10 mm deep)
BLOCK_MM = (30.0, 30.0, 20.0)
SPACING_MM = 7.3
RADIUS_MM = 0.35
DEPTH_MM = 10.0
VOLTAGE = 730.0
SIGMA0, SIGMA1, E_REV, E_IRR = 0.1, 0.35, 200e2, 450e2    # muscle (simulator/materials.py), SI
GROWTH = 0.35                                            # size growth per unit distance (geometry.py)


def smoothstep_sigma(E, np):
    t = np.clip((E - E_REV) / (E_IRR - E_REV), 0.0, 1.0)
    return SIGMA0 + (SIGMA1 - SIGMA0) * t**3 * (t * (6.0 * t - 15.0) + 10.0)


def gmsh_needle_pair(gmsh, size_mm: float, far_mm: float | None = None):
    """The gmsh model in mm: block minus two needles; physical groups 1 (tissue), 1/2 (A/B)."""
    h = size_mm
    far = far_mm or 5.0 * h
    hc = min(h, 2.0 * math.pi * RADIUS_MM / 10.0)
    X, Y, Z = BLOCK_MM
    occ = gmsh.model.occ
    box = occ.addBox(-X / 2, -Y / 2, -Z, X, Y, Z)
    needles = [occ.addCylinder(x, 0.0, -DEPTH_MM, 0.0, 0.0, DEPTH_MM + 1.0, RADIUS_MM)
               for x in (-SPACING_MM / 2, SPACING_MM / 2)]
    occ.cut([(3, box)], [(3, n) for n in needles])
    occ.synchronize()
    vols = [t for _, t in gmsh.model.getEntities(3)]
    surf = {"A": [], "B": []}
    for _, s in gmsh.model.getEntities(2):
        x0, y0, z0, x1, y1, z1 = gmsh.model.getBoundingBox(2, s)
        for name, xc in (("A", -SPACING_MM / 2), ("B", SPACING_MM / 2)):
            if x0 >= xc - RADIUS_MM - 1e-6 and x1 <= xc + RADIUS_MM + 1e-6 and y1 - y0 <= 2 * RADIUS_MM + 1e-6:
                surf[name].append(s)
    gmsh.model.addPhysicalGroup(3, vols, 1)
    gmsh.model.addPhysicalGroup(2, surf["A"], 1)
    gmsh.model.addPhysicalGroup(2, surf["B"], 2)
    f = gmsh.model.mesh.field
    d = f.add("Distance")
    f.setNumbers(d, "SurfacesList", surf["A"] + surf["B"])
    f.setNumber(d, "Sampling", 100)
    th = f.add("Threshold")
    f.setNumber(th, "InField", d)
    f.setNumber(th, "SizeMin", hc)
    f.setNumber(th, "SizeMax", far)
    f.setNumber(th, "DistMin", 0.0)
    f.setNumber(th, "DistMax", (far - hc) / GROWTH)
    bx = f.add("Box")
    pad = 2.0 * h
    for k, v in zip(("XMin", "YMin", "ZMin", "XMax", "YMax", "ZMax"),
                    (-SPACING_MM / 2 - RADIUS_MM - pad, -RADIUS_MM - pad, -DEPTH_MM - pad,
                     SPACING_MM / 2 + RADIUS_MM + pad, RADIUS_MM + pad, 0.0 + pad)):
        f.setNumber(bx, k, v)
    f.setNumber(bx, "VIn", h)
    f.setNumber(bx, "VOut", far)
    f.setNumber(bx, "Thickness", (far - h) / GROWTH)
    m = f.add("Min")
    f.setNumbers(m, "FieldsList", [th, bx])
    f.setAsBackgroundMesh(m)
    for k, v in (("Mesh.MeshSizeFromPoints", 0), ("Mesh.MeshSizeExtendFromBoundary", 0),
                 ("Mesh.MeshSizeFromCurvature", 0), ("Mesh.MeshSizeMax", far), ("Mesh.Algorithm3D", 10),
                 ("General.NumThreads", 1), ("Mesh.RandomSeed", 1)):
        gmsh.option.setNumber(k, v)
    gmsh.model.mesh.generate(3)


def main(argv=None) -> int:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--size", type=float, default=0.3, help="mesh size near the needles, mm")
    p.add_argument("--npz", help="solve on this mesh (points in m, tets, contact_A/contact_B facets)")
    p.add_argument("--json", help="also write the record here")
    p.add_argument("--rtol", type=float, default=1e-8)
    p.add_argument("--damping", type=float, default=0.5)
    p.add_argument("--max-iterations", type=int, default=200)
    p.add_argument("--gmsh-path", default=None)
    p.add_argument("--target-dofs", type=int, default=None,
                   help="re-size the mesh (up to 3 times) to get within 15 %% of this many DOFs")
    a = p.parse_args(argv)
    t_start = time.perf_counter()
    if a.gmsh_path:
        try:
            import gmsh  # noqa: F401
        except ImportError:
            sys.path.append(a.gmsh_path)
    import numpy as np
    import ufl
    from dolfinx import fem, mesh as dmesh
    from dolfinx.fem.petsc import LinearProblem, assemble_vector
    from mpi4py import MPI
    from petsc4py import PETSc
    comm = MPI.COMM_WORLD
    rec = {"engine": "dolfinx-baseline", "mode": "same-mesh" if a.npz else "gmsh",
           "damping": a.damping, "rtol": a.rtol}
    times = {}
    t = time.perf_counter()
    if a.npz:
        data = np.load(a.npz)
        pts, tets = data["points"], data["tets"].astype(np.int64)
        domain = ufl.Mesh(ufl.VectorElement("Lagrange", ufl.tetrahedron, 1))
        msh = dmesh.create_mesh(comm, tets, pts, domain)
        contact_nodes = {k: np.unique(data[f"contact_{k}"]) for k in ("A", "B")}
        V = fem.FunctionSpace(msh, ("CG", 1))
        # P1 DOFs sit at the input points: match them by coordinates (to 1e-11 m)
        def key(x):
            return [tuple(r) for r in np.rint(np.asarray(x) * 1e11).astype(np.int64)]
        index = {k: i for i, k in enumerate(key(pts))}
        orig = np.array([index[k] for k in key(V.tabulate_dof_coordinates())], dtype=np.int64)
        bc_dofs = {}
        for k, nodes in contact_nodes.items():
            mark = np.zeros(len(pts), dtype=bool)
            mark[nodes] = True
            bc_dofs[k] = np.flatnonzero(mark[orig]).astype(np.int32)
    else:
        import gmsh
        from dolfinx.io import gmshio
        size = a.size
        for attempt in range(4):
            t = time.perf_counter()             # only the final (kept) mesh is timed
            gmsh.initialize(readConfigFiles=False)
            gmsh.option.setNumber("General.Terminal", 0)
            gmsh.model.add("needle-pair")
            gmsh_needle_pair(gmsh, size)
            n_nodes = len(gmsh.model.mesh.getNodes()[0])
            if a.target_dofs and attempt < 3 and abs(n_nodes / a.target_dofs - 1.0) > 0.15:
                gmsh.finalize()                 # a user picks the size for a DOF count: re-size
                size *= (n_nodes / a.target_dofs) ** (1.0 / 2.7)
                continue
            msh, cell_tags, facet_tags = gmshio.model_to_mesh(gmsh.model, comm, 0, gdim=3)
            gmsh.finalize()
            break
        rec["mesh_size_mm"] = size
        msh.geometry.x[:] *= 1e-3                                  # mm -> m
        V = fem.FunctionSpace(msh, ("CG", 1))
        bc_dofs = {k: fem.locate_dofs_topological(V, 2, facet_tags.find(tag)) for k, tag in (("A", 1), ("B", 2))}
    times["mesh"] = time.perf_counter() - t
    t = time.perf_counter()
    V0 = fem.FunctionSpace(msh, ("DG", 0))
    bcs = [fem.dirichletbc(PETSc.ScalarType(VOLTAGE), bc_dofs["A"], V),
           fem.dirichletbc(PETSc.ScalarType(0.0), bc_dofs["B"], V)]
    sigma = fem.Function(V0)
    phi = fem.Function(V)
    u, v = ufl.TrialFunction(V), ufl.TestFunction(V)
    a_form = sigma * ufl.inner(ufl.grad(u), ufl.grad(v)) * ufl.dx
    L_form = fem.Constant(msh, PETSc.ScalarType(0.0)) * v * ufl.dx
    problem = LinearProblem(a_form, L_form, bcs=bcs, petsc_options={
        "ksp_type": "cg", "pc_type": "hypre", "pc_hypre_type": "boomeramg", "ksp_rtol": 1e-10})
    ip = V0.element.interpolation_points
    E_expr = fem.Expression(ufl.sqrt(ufl.inner(ufl.grad(phi), ufl.grad(phi))), ip() if callable(ip) else ip)
    E_fun = fem.Function(V0)
    F_form = fem.form(sigma * ufl.inner(ufl.grad(phi), ufl.grad(v)) * ufl.dx)
    vol = assemble_vector(fem.form(ufl.TestFunction(V0) * ufl.dx)).array.copy()
    n_local = V.dofmap.index_map.size_local
    fixed = np.zeros(len(phi.x.array), dtype=bool)
    fixed[bc_dofs["A"]] = fixed[bc_dofs["B"]] = True
    fixed = fixed[:n_local]
    times["setup"] = time.perf_counter() - t

    def update_sigma():
        E_fun.interpolate(E_expr)
        sigma.x.array[:] = smoothstep_sigma(E_fun.x.array, np)

    def residual():
        F = assemble_vector(F_form)
        F.ghostUpdate(addv=PETSc.InsertMode.ADD, mode=PETSc.ScatterMode.REVERSE)
        arr = F.array
        return arr, np.linalg.norm(arr[~fixed]) / max(np.linalg.norm(arr[fixed]), 1e-300)

    t = time.perf_counter()
    t_lin = 0.0
    sigma.x.array[:] = SIGMA0
    tl = time.perf_counter()
    phi.x.array[:] = problem.solve().x.array
    t_lin += time.perf_counter() - tl
    lin_its = problem.solver.getIterationNumber()
    it, res, converged = 0, float("inf"), False
    while True:
        update_sigma()
        F, res = residual()
        if res <= a.rtol:
            converged = True
            break
        if it >= a.max_iterations:
            break
        it += 1
        tl = time.perf_counter()
        new = problem.solve()
        t_lin += time.perf_counter() - tl
        lin_its += problem.solver.getIterationNumber()
        phi.x.array[:] = a.damping * new.x.array + (1.0 - a.damping) * phi.x.array
    times["nonlinear_total"] = time.perf_counter() - t
    times["linear_solves"] = t_lin
    t = time.perf_counter()
    anode = bc_dofs["A"][bc_dofs["A"] < n_local]
    current = float(F[anode].sum())
    E = E_fun.x.array[: V0.dofmap.index_map.size_local]
    rev = float(vol[E >= E_REV].sum()) * 1e9
    irr = float(vol[E >= E_IRR].sum()) * 1e9
    times["post"] = time.perf_counter() - t
    times["total"] = time.perf_counter() - t_start
    rec.update({
        "dofs": int(V.dofmap.index_map.size_global), "cells": int(msh.topology.index_map(3).size_global),
        "times_s": {k: round(x, 4) for k, x in times.items()},
        "iterations": {"nonlinear": it, "linear": int(lin_its)}, "converged": converged, "residual": res,
        "memory_mb": {"peak": round(resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024.0, 1)},
        "answer": {"current_A": [current], "max_current_A": abs(current), "reversible_volume_mm3": rev,
                   "irreversible_volume_mm3": irr},
    })
    text = json.dumps(rec, indent=1)
    if a.json:
        with open(a.json, "w") as fh:
            fh.write(text)
    print(text)
    return 0 if converged else 3


if __name__ == "__main__":
    sys.exit(main())
