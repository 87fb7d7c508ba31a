"""Output: what a run leaves behind, all or nothing.

Owns: atomic output directories (:mod:`~simulator.output.atomic`), field files
(:mod:`~simulator.output.fields`), figures (:mod:`~simulator.output.figures`), the report
dict and terminal summary (:mod:`~simulator.output.report`) and the writer of a whole run
(:mod:`~simulator.output.writer`).
Must not: solve or change results; it reads :class:`~simulator.solve.result.Result`.
"""
from simulator.output.atomic import atomic_directory, check_target, safe_name, write_json
from simulator.output.writer import write_outputs

__all__ = ["atomic_directory", "check_target", "safe_name", "write_json", "write_outputs"]
