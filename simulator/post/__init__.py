"""Post-processing of the accumulated field: coverage of tumours and margins, tissue volumes,
cell states and the repair of contact slivers.

Owns: :mod:`~simulator.post.coverage` and :mod:`~simulator.post.field`.
Must not: solve, read scenario files or write files; it takes the mesh record and per-cell
arrays (SI units) and returns numbers and arrays.
"""
