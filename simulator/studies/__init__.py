"""Studies: many runs of varied scenarios (sweep, compare), collected into tables and figures.

Sits above :mod:`simulator.output` and below :mod:`simulator.cli`. Owns: parsing and
applying variations (:mod:`.variation`), sharing meshes and field solutions between runs
and exact voltage scaling of linear problems (:mod:`.scaling`), running the points here,
in processes or on a Dask cluster (:mod:`.executor`), report rows (:mod:`.table`), the
sweep (:mod:`.sweep`), the comparison (:mod:`.compare`), their figures (:mod:`.figures`)
and files (:mod:`.files`). Must not: parse command lines or print.
"""
