"""The DOLFINx engine (P1/P2, PETSc CG + hypre BoomerAMG, MPI parallel).

Owns: :mod:`~simulator.engines.dolfinx.engine`, the version differences
(:mod:`~simulator.engines.dolfinx.compat`) and the UFL form of the laws
(:mod:`~simulator.engines.dolfinx.laws`). Importing the engine module needs DOLFINx; this
package itself imports nothing, so the registry can name it without DOLFINx installed.
"""
