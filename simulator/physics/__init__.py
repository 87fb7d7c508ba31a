"""Physics: tissue materials and the conductivity laws sigma(E), plus closed-form solutions.

Owns: :mod:`~simulator.physics.conductivity` (each sigma(E) law defined once, evaluated on
NumPy arrays or, through the same definition, as UFL expressions),
:mod:`~simulator.physics.materials` (the material library with sources) and
:mod:`~simulator.physics.analytic` (exact solutions used for verification).
Must not: read files, mesh, solve, or import anything of epsim above ``errors``/``units``.
All values are SI (S/m, V/m, 1/K, kg/m^3, J/(kg K)).
"""
