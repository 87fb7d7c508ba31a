"""The CLI end to end, in-process (main(argv) -> exit code) on every file in examples/."""
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


@pytest.mark.parametrize("example", [pytest.param(p, id=p.stem, marks=pytest.mark.xdist_group(f"example-{p.stem}"))
                                     for p in EXAMPLES])
def test_example_runs_end_to_end(example, example_run):
    """The shared session run (example_runs.ARGS: --fail-under 0.5) with its known outcome."""
    from example_runs import EXPECTED_COVERED, EXPECTED_EXIT
    r = example_run(example.stem)
    assert r.code == EXPECTED_EXIT[example.stem], r.err
    report, out = r.report, r.out_dir
    for section, keys in REPORT_KEYS.items():
        for key in keys:
            assert key in report[section], f"{section}.{key} missing"
    for key in ("pulses", "max_temperature_rise_K", "timings_s", "versions"):
        assert key in report
    for p in report["pulses"]:
        assert {"anode", "cathode", "voltage_V", "current_A", "count"} <= set(p)
        assert p["current_A"] > 0
    assert report["solver"]["converged"] is True
    assert report["coverage"]["covered"] is EXPECTED_COVERED[example.stem], report["coverage"]
    assert (out / "field.vtu").stat().st_size > 0
    assert (out / "field_xz.png").exists() and (out / "field_xy.png").exists()
    assert (out / "coverage.csv").exists()                  # every example has tumours
    assert ("verdict: COVERED" if EXPECTED_COVERED[example.stem] else "verdict: NOT COVERED") in r.out
    assert not list(out.parent.glob(".*partial*"))
    if r.code == 1:                                         # --fail-under: said on stderr, outputs kept
        cov = report["coverage"]["margin_reversible_fraction"]
        assert cov < 0.5 and r.err.strip() == f"coverage {cov:.4f} is below --fail-under 0.5"
    else:
        assert report["coverage"]["margin_reversible_fraction"] >= 0.5 and r.err == ""


def test_fail_under_above_one_is_bad_input(tmp_path, capsys):
    example = next(p for p in EXAMPLES if "pair" in p.stem)
    # coverage is a fraction <= 1: asking for more than 1 is refused as bad input before any work
    assert main(["run", str(example), "--out", str(tmp_path / "a"), "--quiet", "--no-figures",
                 "--fail-under", "1.5"]) == 2
    err = capsys.readouterr().err.strip().splitlines()
    assert len(err) == 1 and "--fail-under" in err[0] and "1.5" in err[0]
    assert not (tmp_path / "a").exists()


TINY = """
name = "tiny"
[tissue]
size_mm = [8, 10, 6]
layers = [ { material = "muscle" } ]
[electrode]
type = "plates"
gap_mm = 8
length_mm = 10
depth_mm = 6
[protocol]
voltage_V = 400
pulses = 8
[mesh]
size_mm = 3.0
cache = false
accuracy = 0
"""


def test_internal_error_is_exit_4_one_line_nothing_written(tmp_path, capsys, monkeypatch):
    """A bug inside epsim (here: the figure writer raising) -> exit 4, one line naming it,
    no output directory and no partial directory left behind."""
    from simulator.output import figures

    def broken(*a, **k):
        raise ZeroDivisionError("planted bug")

    monkeypatch.setattr(figures, "plot_slices", broken)
    monkeypatch.delenv("EPSIM_DEBUG", raising=False)
    path = tmp_path / "tiny.toml"
    path.write_text(TINY)
    code = main(["run", str(path), "--out", str(tmp_path / "o"), "--quiet"])
    err = capsys.readouterr().err.strip().splitlines()
    assert code == 4
    assert len(err) == 1 and err[0].startswith("epsim: internal error: ZeroDivisionError: planted bug")
    assert sorted(p.name for p in tmp_path.iterdir()) == ["tiny.toml"]


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
