"""The CLI end to end, in-process (main(argv) -> exit code) on every file in examples/."""
import json
import shutil
import sys
from pathlib import Path

import pytest

from simulator.cli import main

EXAMPLES = sorted((Path(__file__).resolve().parents[1] / "examples").glob("*.toml"))

REPORT_KEYS = {
    "coverage": ["tumour_reversible_fraction", "tumour_irreversible_fraction", "margin_reversible_fraction",
                 "covered"],
    "volumes_mm3": ["tumour", "reversible", "irreversible", "healthy_irreversible"],
    "solver": ["engine", "dofs", "cells", "nonlinear_iterations", "converged"],
}


def fixed_mesh_copy(example: Path, tmp_path: Path) -> Path:
    """The example (with the files beside it) set to one fixed mesh: [mesh] accuracy = 0."""
    shutil.copytree(example.parent, tmp_path / "examples")
    copy = tmp_path / "examples" / example.name
    copy.write_text(copy.read_text().replace("[mesh]", "[mesh]\naccuracy = 0"))
    return copy


@pytest.mark.parametrize("example", EXAMPLES, ids=[p.stem for p in EXAMPLES])
def test_example_runs_end_to_end(example, tmp_path, capsys):
    out = tmp_path / "out"
    example = fixed_mesh_copy(example, tmp_path)    # the refinement loop is tested in test_accuracy.py
    code = main(["run", str(example), "--out", str(out), "--quiet"])
    captured = capsys.readouterr()
    assert code in (0, 1), captured.err
    report = json.loads((out / "report.json").read_text())
    for section, keys in REPORT_KEYS.items():
        for key in keys:
            assert key in report[section], f"{section}.{key} missing"
    for key in ("pulses", "max_temperature_rise_K", "timings_s", "versions"):
        assert key in report
    for p in report["pulses"]:
        assert {"anode", "cathode", "voltage_V", "current_A", "count"} <= set(p)
        assert p["current_A"] > 0
    assert report["solver"]["converged"] is True
    assert (out / "field.vtu").stat().st_size > 0
    assert (out / "field_xz.png").exists() and (out / "field_xy.png").exists()
    if report["coverage"]["covered"] is not None:
        assert (out / "coverage.csv").exists()
    assert "verdict:" in captured.out
    assert not list(tmp_path.glob(".*partial*"))


def test_fail_under_sets_exit_code(tmp_path):
    example = next(p for p in EXAMPLES if "pair" in p.stem)
    example = fixed_mesh_copy(example, tmp_path)
    # coverage is a fraction <= 1: asking for more than 1 is refused as bad input, 1.0 may fail
    assert main(["run", str(example), "--out", str(tmp_path / "a"), "--quiet", "--no-figures",
                 "--fail-under", "1.5"]) == 2
    code = main(["run", str(example), "--out", str(tmp_path / "b"), "--quiet", "--no-figures",
                 "--fail-under", "0.0"])
    assert code == 0


def test_presets_lists_catalogue(capsys):
    assert main(["presets"]) == 0
    out = capsys.readouterr().out
    for word in ("hexagonal", "plates", "needle-pair", "esope", "tumour", "smoothstep"):
        assert word in out


def test_engine_dolfinx_missing_is_one_line_exit_2(tmp_path, capsys, monkeypatch):
    """Where DOLFINx is not importable, --engine dolfinx says how to install it (exit 2)."""
    import builtins
    real_import = builtins.__import__

    def no_dolfinx(name, *args, **kwargs):
        if name == "dolfinx" or name.startswith("dolfinx."):
            raise ImportError("No module named 'dolfinx'")
        return real_import(name, *args, **kwargs)

    monkeypatch.setattr(builtins, "__import__", no_dolfinx)
    for mod in [m for m in sys.modules if m.startswith("dolfinx") or m.endswith("dolfinx_engine")
                or m.endswith("dolfinx_compat")]:
        monkeypatch.delitem(sys.modules, mod)
    example = next(p for p in EXAMPLES if "pair" in p.stem)
    code = main(["run", str(example), "--engine", "dolfinx", "--out", str(tmp_path / "o"), "--quiet"])
    err = capsys.readouterr().err.strip().splitlines()
    assert code == 2
    assert len(err) == 1 and "solver.engine" in err[0] and "apt-get install python3-dolfinx" in err[0]
    assert not (tmp_path / "o").exists()
