"""Post-processing of the accumulated field: coverage of tumours and margins, tissue volumes,
cell states and the repair of contact slivers.

Owns: :mod:`~simulator.post.coverage`, :mod:`~simulator.post.field` and
:mod:`~simulator.post.above` (the one measure of a volume above a threshold).
Must not: solve, read scenario files or write files; it takes the mesh record and per-cell
arrays (SI units) and returns numbers and arrays.
"""
