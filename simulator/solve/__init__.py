"""Solve: the pulse train and the whole pipeline ``run(scenario) -> Result``.

Owns: :mod:`~simulator.solve.train` (pulse groups in order, the stationary and monotone
models, accumulation of max field, pulse counts and heating),
:mod:`~simulator.solve.pipeline` (mesh -> engine -> train -> post) and the result record
(:mod:`~simulator.solve.result`).
Must not: write files or print (progress goes through a callback); outputs sit above it.
"""
