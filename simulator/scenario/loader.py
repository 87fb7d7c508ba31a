"""Scenario files: TOML -> validated :class:`~simulator.scenario.records.Scenario`.

Scenario files use mm, V, V/cm, S/m and us (design.md section 5); the records hold m, V,
V/m, S/m and s. Every problem raises :class:`ScenarioError` naming the dotted field.
"""
from __future__ import annotations
import tomllib
from pathlib import Path
from simulator.errors import ScenarioError
from simulator.scenario.records import Scenario
from simulator.scenario.table import Table
from simulator.scenario.table import missing
from simulator.scenario.sections import read_electrode
from simulator.scenario.sections import read_generator
from simulator.scenario.sections import read_materials
from simulator.scenario.sections import read_mesh
from simulator.scenario.sections import read_protocol
from simulator.scenario.sections import read_solver
from simulator.scenario.sections import read_tissue
from simulator.scenario.sections import read_tumours


# ----------------------------------------------------------------------------- loading
def load_scenario(path: str | Path) -> Scenario:
    """Read and validate a scenario TOML file."""
    p = Path(path)
    if p.is_dir():
        raise ScenarioError("scenario", f"{str(p)!r} is a directory, not a scenario file")
    try:
        raw = p.read_bytes()
    except FileNotFoundError:
        raise ScenarioError("scenario", f"file {str(p)!r} does not exist") from None
    except OSError as exc:
        raise ScenarioError("scenario", f"cannot read {str(p)!r}: {exc.strerror}") from None
    try:
        text = raw.decode("utf-8-sig")          # a BOM (Windows editors) is harmless
    except UnicodeDecodeError as exc:
        line = raw[:exc.start].count(b"\n") + 1
        raise ScenarioError("scenario", f"{str(p)!r} is not UTF-8 text (line {line}, byte {exc.start}); "
                            "save it as UTF-8") from None
    if not text.strip():
        raise ScenarioError("scenario", f"{str(p)!r} is empty")
    try:
        data = tomllib.loads(text)
    except tomllib.TOMLDecodeError as exc:
        raise ScenarioError("scenario", f"TOML syntax error in {p.name}: {exc}") from None
    return scenario_from_dict(data, default_name=p.stem)


ALLOWED_TOP = ["name", "tissue", "tumours", "electrode", "protocol", "materials", "mesh",
               "solver", "generator", "coverage"]


def scenario_from_dict(data: dict, default_name: str = "scenario") -> Scenario:
    """Validate a scenario given as a dict (the parsed TOML)."""
    top = Table(data, "")
    name = top.string("name", default_name)
    if not name.strip() or len(name) > 200 or any(c in name for c in "\0\n\r"):
        raise ScenarioError("name", f"must be a non-empty single line of at most 200 characters, got {name!r}")
    materials = read_materials(top.get("materials", {}))
    tissue = read_tissue(Table(top.get("tissue", {}), "tissue"), materials)
    tumours = read_tumours(top.get("tumours", []), materials, tissue)
    electrode, catalogue_entry = read_electrode(Table(top.get("electrode"), "electrode") if top.has("electrode")
                                            else missing("electrode"), tissue)
    protocol = read_protocol(Table(top.get("protocol", {}), "protocol"), electrode,
                         catalogue_entry.protocol if catalogue_entry else None)
    mesh = read_mesh(Table(top.get("mesh", {}), "mesh"))
    solver = read_solver(Table(top.get("solver", {}), "solver"))
    generator = read_generator(Table(top.get("generator", {}), "generator"))
    cov = Table(top.get("coverage", {}), "coverage")
    tol = cov.number("tolerance", 1e-3, allow_zero=True, maximum=0.5)
    margin_rule = cov.string("margin_threshold", "tumour", choices=["tumour", "tissue"])
    cov.finish()
    top.finish(ALLOWED_TOP)
    used = {layer.material for layer in tissue.layers} | {t.material for t in tumours}
    return Scenario(name, tissue, tumours, electrode, protocol,
                    {k: v for k, v in materials.items() if k in used},
                    mesh, solver, generator, tol, margin_rule)
