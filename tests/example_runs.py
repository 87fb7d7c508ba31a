"""Every example through the CLI, once per test session (shared by test_cli and test_examples).

:func:`run_example` runs ``epsim run examples/NAME.toml --out DIR --quiet [extra args]``
in-process and keeps the exit code, stdout, stderr, the written report.json and the
:class:`~simulator.solve.result.Result` the CLI's run() returned (captured by wrapping
:func:`simulator.solve.pipeline.run` for the duration of the call). Under pytest-xdist each
worker has its own session: the tests of one example carry ``xdist_group("example-NAME")``
and scripts/test.sh passes ``--dist loadgroup``, so they share one worker and one run.
"""
from __future__ import annotations

import contextlib
import io
import json
import shutil
from dataclasses import dataclass
from pathlib import Path

import pytest

EXAMPLES = Path(__file__).resolve().parents[1] / "examples"

# The CLI arguments each example runs with in the shared session run, and its known
# outcome: multi_lesion's "outside" nodule is not covered, so --fail-under 0.5 gives exit 1
# (outputs are still written); needle_pair covers ~95 % of its nodule (not all: not covered)
# but more than half of tumour + margin, so it passes the threshold, as do the covered others.
ARGS = {name: ["--fail-under", "0.5"] for name in
        ("hexagonal", "linear_array", "multi_lesion", "needle_pair", "plates_skin_fold", "skin_fold",
         "exophytic_plates", "chest_wall_recurrence", "patient_geometry")}
# chest_wall_recurrence: T2 covered; on the curved wall the protruding T1 is not quite (margin
# 99.74 %, under the 0.999 of the coverage tolerance; 99.94 % on a flat wall)
EXPECTED_EXIT = {"hexagonal": 0, "linear_array": 0, "multi_lesion": 1, "needle_pair": 0,
                 "plates_skin_fold": 0, "skin_fold": 0, "exophytic_plates": 0, "chest_wall_recurrence": 0,
                 "patient_geometry": 0}
EXPECTED_COVERED = {"skin_fold": True, "exophytic_plates": True, "chest_wall_recurrence": False,
                    "patient_geometry": True,
                    "hexagonal": True, "linear_array": True, "multi_lesion": False, "needle_pair": False,
                    "plates_skin_fold": True}


@dataclass
class ExampleRun:
    name: str
    code: int
    out: str
    err: str
    out_dir: Path
    report: dict | None
    result: object          # simulator.solve.result.Result (None when run() raised)


def fixed_mesh_copy(name: str, where: Path) -> Path:
    """The example (and the files beside it) copied to ``where``, set to one fixed mesh
    ([mesh] accuracy = 0): these runs check everything but the refinement loop, which
    tests/test_accuracy.py checks (the examples' default-target runs: README "Accuracy")."""
    folder = where / "examples"
    if not folder.exists():
        shutil.copytree(EXAMPLES, folder)
    path = folder / f"{name}.toml"
    text = (EXAMPLES / f"{name}.toml").read_text()
    path.write_text(text if "accuracy = 0" in text else text.replace("[mesh]", "[mesh]\naccuracy = 0"))
    return path


def run_example(name: str, out_dir: Path, args: list[str]) -> ExampleRun:
    import simulator.solve.pipeline as pipeline
    from simulator.cli import main
    captured = []
    real_run = pipeline.run

    def recording_run(*a, **k):
        captured.append(real_run(*a, **k))
        return captured[-1]

    stdout, stderr = io.StringIO(), io.StringIO()
    with pytest.MonkeyPatch.context() as mp, contextlib.redirect_stdout(stdout), \
            contextlib.redirect_stderr(stderr):
        mp.setattr(pipeline, "run", recording_run)
        code = main(["run", str(fixed_mesh_copy(name, out_dir.parent)), "--out", str(out_dir), "--quiet", *args])
    report_path = out_dir / "report.json"
    report = json.loads(report_path.read_text()) if report_path.exists() else None
    return ExampleRun(name, code, stdout.getvalue(), stderr.getvalue(), out_dir, report,
                      captured[0] if captured else None)
