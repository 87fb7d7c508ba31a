"""Studies over many runs (above :mod:`simulator.output`, below :mod:`simulator.cli`).

* :mod:`simulator.studies.minimum_voltage` - the lowest covering voltage (bisection);
* :mod:`simulator.studies.candidates` - catalogue electrodes placed over the lesion;
* :mod:`simulator.studies.ranking` - the configurable ranking hierarchy;
* :mod:`simulator.studies.treatment_time` - time per application and the drug window;
* :mod:`simulator.studies.plan` - ``plan(...)``: all of the above, the ``epsim plan`` API;
* :mod:`simulator.studies.plan_output` - plan.json, planned.toml, plan.png;
* sweep and compare (issue 14): :mod:`.variation` (KEY=VALUES, grids), :mod:`.scaling`
  (meshes and field solutions shared between runs, exact voltage scaling of linear
  problems), :mod:`.executor` (tasks here, in processes or on a Dask cluster), :mod:`.table`
  (report rows, CSV), :mod:`.sweep`, :mod:`.compare`, :mod:`.figures`, :mod:`.files`.
"""
