"""AMG variants on the needle-pair Newton systems (issue 11 item 5; numbers in CHANGES.md).

    python -m benchmarks.amg_study dump needle-pair-m systems_m.pkl
    python -m benchmarks.amg_study compare systems_s.pkl,systems_m.pkl sa,sa_gs,rs POLICY [CYCLE]

``dump`` runs the case through the runner with a hook on the engine's CG and pickles every
system it solves (A, b, rtol). ``compare`` re-solves them with the engine's PCG and each
pyamg variant; POLICY: ``reuse`` (hierarchy of system 1 kept, HEAD b8ffe3d's policy),
``fresh`` (a setup per system), ``rap`` / ``rap1`` (setup at systems 0-1 / 0 only, then
Galerkin coarse operators of each new matrix on the kept prolongators); CYCLE V, W or F.
Prints CG iterations per system, setup and solve CPU (process time), operator complexity.
Research script (splu coarse solver as pyamg's default, the engine's is dense Cholesky).
"""
import json
import pickle
import sys
import time

import numpy as np
import pyamg
import scipy.sparse as sp


from simulator.engines.embedded import engine as E
from simulator.engines.embedded import amg as A_
from simulator.engines.embedded.blas import single_threaded_blas
from simulator.engines.base import SolverSettings

GS = ("gauss_seidel", {"sweep": "symmetric"})
BGS = ("block_gauss_seidel", {"sweep": "symmetric"})
VARIANTS = {
 "sa": lambda A: pyamg.smoothed_aggregation_solver(A, symmetry="hermitian", max_coarse=500, coarse_solver="splu"),
 "sa_gs": lambda A: pyamg.smoothed_aggregation_solver(A, symmetry="hermitian", max_coarse=500, coarse_solver="splu", presmoother=GS, postsmoother=GS),
 "sa_th08": lambda A: pyamg.smoothed_aggregation_solver(A, symmetry="hermitian", max_coarse=500, coarse_solver="splu", strength=("symmetric", {"theta": 0.08})),
 "sa_th25": lambda A: pyamg.smoothed_aggregation_solver(A, symmetry="hermitian", max_coarse=500, coarse_solver="splu", strength=("symmetric", {"theta": 0.25})),
 "sa_evo": lambda A: pyamg.smoothed_aggregation_solver(A, symmetry="hermitian", max_coarse=500, coarse_solver="splu", strength="evolution"),
 "sa_noic": lambda A: pyamg.smoothed_aggregation_solver(A, symmetry="hermitian", max_coarse=500, coarse_solver="splu", improve_candidates=None),
 "sa_energy": lambda A: pyamg.smoothed_aggregation_solver(A, symmetry="hermitian", max_coarse=500, coarse_solver="splu", smooth="energy"),
 "sa_jac2": lambda A: pyamg.smoothed_aggregation_solver(A, symmetry="hermitian", max_coarse=500, coarse_solver="splu", presmoother=("jacobi", {"iterations": 2, "omega": 2/3}), postsmoother=("jacobi", {"iterations": 2, "omega": 2/3})),
 "sa_gs2": lambda A: pyamg.smoothed_aggregation_solver(A, symmetry="hermitian", max_coarse=500, coarse_solver="splu", presmoother=("gauss_seidel", {"sweep": "symmetric", "iterations": 2}), postsmoother=("gauss_seidel", {"sweep": "symmetric", "iterations": 2})),
 "rootnode": lambda A: pyamg.rootnode_solver(A, symmetry="hermitian", max_coarse=500, coarse_solver="splu"),
 "rs": lambda A: pyamg.ruge_stuben_solver(A, max_coarse=500, coarse_solver="splu"),
 "rs_pmis": lambda A: pyamg.ruge_stuben_solver(A, max_coarse=500, coarse_solver="splu", CF="PMIS", interpolation="classical"),
 "rs_pmisc": lambda A: pyamg.ruge_stuben_solver(A, max_coarse=500, coarse_solver="splu", CF="PMISc", interpolation="classical"),
 "rs_2p": lambda A: pyamg.ruge_stuben_solver(A, max_coarse=500, coarse_solver="splu", CF=("RS", {"second_pass": True})),
 "rs_th5": lambda A: pyamg.ruge_stuben_solver(A, max_coarse=500, coarse_solver="splu", strength=("classical", {"theta": 0.5})),
 "sa_fb": lambda A: pyamg.smoothed_aggregation_solver(A, symmetry="hermitian", max_coarse=500, coarse_solver="splu", presmoother=("gauss_seidel", {"sweep": "forward"}), postsmoother=("gauss_seidel", {"sweep": "backward"})),
 "energy_fb": lambda A: pyamg.smoothed_aggregation_solver(A, symmetry="hermitian", max_coarse=500, coarse_solver="splu", smooth="energy", presmoother=("gauss_seidel", {"sweep": "forward"}), postsmoother=("gauss_seidel", {"sweep": "backward"})),
 "energy_gs": lambda A: pyamg.smoothed_aggregation_solver(A, symmetry="hermitian", max_coarse=500, coarse_solver="splu", smooth="energy", presmoother=GS, postsmoother=GS),
 "energy_m2": lambda A: pyamg.smoothed_aggregation_solver(A, symmetry="hermitian", max_coarse=500, coarse_solver="splu", smooth=("energy", {"maxiter": 2}), presmoother=GS, postsmoother=GS),
 "energy_m1": lambda A: pyamg.smoothed_aggregation_solver(A, symmetry="hermitian", max_coarse=500, coarse_solver="splu", smooth=("energy", {"maxiter": 1}), presmoother=GS, postsmoother=GS),
 "energy_m2_noic": lambda A: pyamg.smoothed_aggregation_solver(A, symmetry="hermitian", max_coarse=500, coarse_solver="splu", smooth=("energy", {"maxiter": 2}), presmoother=GS, postsmoother=GS, improve_candidates=None),
 "pairwise": lambda A: pyamg.pairwise_solver(A, max_coarse=500, coarse_solver="splu"),
}

def make(name, A, cycle="V"):
    E.EmbeddedEngine.__new__(E.EmbeddedEngine)
    builder = VARIANTS[name]
    with A_._SEED_LOCK:
        st = np.random.get_state(); np.random.seed(A_.AMG_SEED)
        try:
            ml = builder(A)
        finally:
            np.random.set_state(st)
    for lvl in ml.levels:
        for key in ("A", "P", "R"):
            op = getattr(lvl, key, None)
            if op is not None and sp.issparse(op) and op.format != "csr":
                setattr(lvl, key, op.tocsr())
    solve = ml._MultilevelSolver__solve
    def pc(b):
        x = np.zeros_like(b); solve(0, x, b, cycle); return x
    return ml, pc

def refresh(ml, A):
    """Galerkin coarse operators of a new fine matrix on the kept prolongators."""
    ml.levels[0].A = A
    for i in range(len(ml.levels) - 1):
        lv = ml.levels[i]
        ml.levels[i + 1].A = (lv.R @ (lv.A @ lv.P)).tocsr()
    ml.coarse_solver = pyamg.multilevel.coarse_grid_solver("splu")

def compare(argv):
    files = argv[0].split(","); names = argv[1].split(","); policy = argv[2] if len(argv) > 2 else "reuse"
    cycle = argv[3] if len(argv) > 3 else "V"
    eng = E.EmbeddedEngine.__new__(E.EmbeddedEngine); eng.settings = SolverSettings()
    for f in files:
        systems = pickle.load(open(f, "rb"))
        for name in names:
            tot_setup = tot_solve = 0.0; its = []; pc = ml = None
            with single_threaded_blas():
                for k, s in enumerate(systems):
                    A, b = s["A"], s["b"]
                    if policy in ("rap", "rap1") and (k >= 2 or (policy == "rap1" and k == 1)):
                        t = time.process_time(); refresh(ml, A); tot_setup += time.process_time() - t
                    elif k <= 1 or policy == "fresh":
                        t = time.process_time(); ml, pc = make(name, A, cycle); tot_setup += time.process_time() - t
                        if k == 1 or (k == 0): cx = ml.operator_complexity(); gx = ml.grid_complexity(); nl = len(ml.levels)
                    t = time.process_time()
                    try:
                        x, it = eng._cg(A, b, pc, rtol=s["rtol"])
                    except Exception:
                        it = -1
                    tot_solve += time.process_time() - t
                    its.append(it)
            n = systems[0]["A"].shape[0]
            r = dict(n=n, its=its, sum=sum(its), setup=round(tot_setup, 3), solve=round(tot_solve, 3),
                     us_dof=round(1e6*(tot_setup+tot_solve)/n, 2), opc=round(cx, 3), grid=round(gx, 3), levels=nl)
            print(f.split("/")[-1], name, policy, cycle, json.dumps(r), flush=True)



def dump(case, path):
    systems = []
    orig_cg = E.EmbeddedEngine._cg

    def cg(self, A, b, precond, x0=None, rtol=None):
        x, it = orig_cg(self, A, b, precond, x0=x0, rtol=rtol)
        systems.append(dict(A=A.copy(), b=b.copy(), rtol=rtol if rtol is not None else self.settings.linear_rtol, its=it))
        return x, it
    E.EmbeddedEngine._cg = cg
    from benchmarks.cases import all_cases
    from benchmarks.runner import run_case
    spec = all_cases()[case]
    rec = run_case(case, spec["scenario"], spec["kind"], output=False)
    print(json.dumps({k: rec[k] for k in ("dofs", "iterations", "answer")}))
    with open(path, "wb") as f:
        pickle.dump(systems, f, protocol=5)


if __name__ == "__main__":
    if sys.argv[1] == "dump":
        dump(sys.argv[2], sys.argv[3])
    else:
        compare(sys.argv[2:])
