"""Scenario files: TOML -> validated :class:`~simulator.scenario.records.Scenario`.

Scenario files use mm, V, V/cm, S/m and us (design.md section 5); the records hold m, V,
V/m, S/m and s. Every problem raises :class:`ScenarioError` naming the dotted field.
"""
from __future__ import annotations
import copy
import tomllib
from dataclasses import replace
from pathlib import Path
from simulator.errors import ScenarioError
from simulator.scenario import records
from simulator.scenario.records import Scenario
from simulator.scenario.anatomy import read_no_go
from simulator.scenario.table import Table
from simulator.scenario.table import missing
from simulator.scenario.sections import read_cell_kill
from simulator.scenario.files import MAX_NESTING, check_nesting, read_scenario_bytes
from simulator.scenario.names import check_name
from simulator.scenario.sections import read_electrode
from simulator.scenario.sections import read_generator
from simulator.scenario.sections import read_materials
from simulator.scenario.sections import check_mesh_order, read_mesh
from simulator.scenario.sections import read_protocol
from simulator.scenario.sections import read_solver
from simulator.scenario.sections import read_thermal
from simulator.scenario.sections import read_tissue
from simulator.scenario.sections import read_tumours
from simulator.scenario.sections import read_zone_thresholds


# ----------------------------------------------------------------------------- loading
def load_scenario(path: str | Path) -> Scenario:
    """Read and validate a scenario TOML file."""
    p = Path(path)
    raw = read_scenario_bytes(p)
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
    except RecursionError:
        raise ScenarioError("scenario", f"{str(p)!r} nests arrays or tables too deeply to parse "
                            f"(epsim accepts at most {MAX_NESTING} levels)") from None
    check_nesting(data, str(p))
    return scenario_from_dict(data, default_name=p.stem, base_dir=p.parent)


ALLOWED_TOP = ["name", "tissue", "tumours", "electrode", "protocol", "materials", "mesh",
               "solver", "generator", "coverage", "no_go", "applications", "conductivity_model",
               "cell_kill", "thermal"]


def scenario_from_dict(data: dict, default_name: str = "scenario", base_dir: Path | None = None) -> Scenario:
    """Validate a scenario given as a dict (the parsed TOML); files it names (surfaces, label
    images) are relative to ``base_dir`` (the scenario file's folder; default: the working directory)."""
    check_nesting(data)
    top = Table(data, "")
    top.only(ALLOWED_TOP)       # a misspelt table ([protocl]) is named, not reported as a missing key
    name = top.string("name", default_name)
    check_name("name", name, "" if top.has("name") else " (the file name; set name = \"...\")")
    if not name.strip() or len(name) > 200:
        raise ScenarioError("name", f"must be a non-empty single line of at most 200 characters, got {name!r}")
    materials = read_materials(top.get("materials", {}))
    materials = default_conductivity_model(top, materials)
    tissue = read_tissue(Table(top.get("tissue", {}), "tissue"), materials, base_dir)
    tumours = read_tumours(top.get("tumours", []), materials, tissue, base_dir)
    applications = ()
    if top.has("applications"):
        from simulator.scenario.applications import read_applications
        if top.has("electrode"):
            raise ScenarioError("applications", "give [electrode] (one application) or [[applications]], not both")
        electrode, protocol, applications = read_applications(top.get("applications"), top.get("protocol", {}),
                                                              tissue)
    else:
        electrode, catalogue_entry = read_electrode(Table(top.get("electrode"), "electrode")
                                                    if top.has("electrode") else missing("electrode"), tissue)
        protocol = read_protocol(Table(top.get("protocol", {}), "protocol"), electrode,
                                 catalogue_entry.protocol if catalogue_entry else None)
    mesh = read_mesh(Table(top.get("mesh", {}), "mesh"))
    solver = read_solver(Table(top.get("solver", {}), "solver"))
    check_mesh_order(mesh, solver)
    generator = read_generator(Table(top.get("generator", {}), "generator"))
    cov = Table(top.get("coverage", {}), "coverage")
    tol = cov.number("tolerance", 1e-3, allow_zero=True, maximum=0.5)
    margin_rule = cov.string("margin_threshold", "tumour", choices=["tumour", "tissue"])
    thresholds = read_zone_thresholds(cov)
    cov.finish()
    cell_kill = read_cell_kill(Table(top.get("cell_kill", {}), "cell_kill"), materials)
    thermal = read_thermal(Table(top.get("thermal", {}), "thermal"), solver, protocol)
    no_go = read_no_go(top.get("no_go", []), tissue)
    top.finish(ALLOWED_TOP)
    used = (set(tissue.layer_materials()) | {t.material for t in tumours}
            | {t.cover_material for t in tumours if t.cover_material}
            | ({tissue.ribs.material} if tissue.ribs else set()))
    check_unused_materials(top.get("materials", {}) or {}, used)
    return Scenario(name, tissue, tumours, electrode, protocol,
                    {k: v for k, v in materials.items() if k in used},
                    mesh, solver, generator, tol, no_go=no_go, applications=applications,
                    zone_thresholds=thresholds, cell_kill=cell_kill, thermal=thermal,
                    margin_threshold=margin_rule, source=copy.deepcopy(data), source_dir=base_dir)


def check_unused_materials(raw: dict, used: set[str]) -> None:
    """Refuse a ``[materials.X]`` table that no region uses when X is a near-miss of a library
    material the scenario does use with its library values (``[materials.tumor]`` for
    ``tumour``: a typo that would silently leave the intended values unused). Other unused
    tables are allowed (a study may switch between them) and reported as warnings
    (output.report.warnings_of)."""
    import difflib
    from simulator.physics.materials import LIBRARY
    intended = [m for m in sorted(used) if m in LIBRARY and m not in raw]
    for name in raw:
        if name in used:
            continue
        hint = difflib.get_close_matches(str(name), intended, n=1, cutoff=0.75)
        if hint:
            raise ScenarioError(f"materials.{name}", f"no tissue layer, tumour or surface uses it (did you mean "
                                f"{hint[0]!r}? that one is used here with its library values)")


def default_conductivity_model(top: Table, materials: dict) -> dict:
    """``conductivity_model = "constant"`` at the top level: the sigma(E) law of every
    material that does not name its own in ``[materials.X]`` (issue 14)."""
    from simulator.physics.conductivity import MODELS
    model = top.string("conductivity_model", None, choices=list(MODELS))
    if model is None:
        return materials
    raw = top.get("materials", {})
    own = {n for n, t in raw.items() if isinstance(t, dict) and t.get("conductivity_model") is not None}
    return {n: m if n in own else replace(m, conductivity_model=model) for n, m in materials.items()}


records.READER[:] = [scenario_from_dict]        # Scenario.with_changes re-reads through it
