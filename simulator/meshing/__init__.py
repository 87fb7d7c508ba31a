"""Meshing: scenario -> engine-neutral tetrahedral mesh, with gmsh OpenCASCADE.

Owns: the mesh record (:mod:`~simulator.meshing.mesh`), the gmsh session
(:mod:`~simulator.meshing.session`), the OCC model (:mod:`~simulator.meshing.geometry`,
:mod:`~simulator.meshing.model`), the size field (:mod:`~simulator.meshing.size_field`),
extraction from gmsh (:mod:`~simulator.meshing.extract`), the build
(:mod:`~simulator.meshing.build`) and the on-disk cache (:mod:`~simulator.meshing.cache`).
Must not: know about engines, solving or outputs. Lengths are metres in the mesh record.
"""
