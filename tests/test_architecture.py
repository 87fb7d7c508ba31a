"""The import graph of epsim: no cycles, no import pointing up a layer, no library -> benchmarks.

Every module of ``simulator/``, ``electrodes/`` and ``protocols/`` is parsed with :mod:`ast`;
imports inside functions count, imports under ``if TYPE_CHECKING:`` do not. The layer order
is the one stated in the docstring of ``simulator/__init__.py`` (``studies`` between
``output`` and ``cli``); ``electrodes`` < ``protocols`` < ``simulator``. The root
``simulator/__init__`` and ``simulator/version`` are neutral.
"""
from __future__ import annotations

import ast
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]
PACKAGES = ("electrodes", "protocols", "simulator")
# Bottom first. Each entry is a module-name prefix; the longest matching prefix decides.
LAYERS = ("electrodes", "protocols", "simulator.errors|simulator.units|simulator.memory|simulator.leftovers",
          "simulator.physics",
          "simulator.scenario", "simulator.meshing", "simulator.engines", "simulator.post",
          "simulator.solve", "simulator.output", "simulator.studies", "simulator.cli")
NEUTRAL = {"simulator", "simulator.version"}
FORBIDDEN_TOP = {"benchmarks", "tests"}


def module_name(path: Path, root: Path = ROOT) -> str:
    parts = list(path.relative_to(root).with_suffix("").parts)
    if parts[-1] == "__init__":
        parts.pop()
    return ".".join(parts)


def _is_type_checking(test: ast.expr) -> bool:
    return (isinstance(test, ast.Name) and test.id == "TYPE_CHECKING") or (
        isinstance(test, ast.Attribute) and test.attr == "TYPE_CHECKING")


def _walk_runtime(node: ast.AST):
    """All nodes below ``node`` except the bodies of ``if TYPE_CHECKING:`` blocks."""
    for child in ast.iter_child_nodes(node):
        if isinstance(child, ast.If) and _is_type_checking(child.test):
            for other in child.orelse:
                yield other
                yield from _walk_runtime(other)
            continue
        yield child
        yield from _walk_runtime(child)


def imports_of(source: str, name: str, is_package: bool, modules: set[str]) -> set[str]:
    """The modules that module ``name`` imports at run time (as dotted names)."""
    package = name if is_package else name.rpartition(".")[0]
    found: set[str] = set()
    for node in _walk_runtime(ast.parse(source)):
        if isinstance(node, ast.Import):
            found.update(alias.name for alias in node.names)
        elif isinstance(node, ast.ImportFrom):
            if node.level:
                base_parts = package.split(".")
                base_parts = base_parts[:len(base_parts) - (node.level - 1)]
                base = ".".join(base_parts + ([node.module] if node.module else []))
            else:
                base = node.module
            for alias in node.names:
                sub = f"{base}.{alias.name}"
                found.add(sub if sub in modules else base)
    return found


def build_graph(root: Path = ROOT, packages=PACKAGES) -> dict[str, set[str]]:
    """module -> the project modules (or forbidden tops) it imports."""
    files = {module_name(p, root): p for pkg in packages for p in sorted((root / pkg).rglob("*.py"))}
    names = set(files)
    graph: dict[str, set[str]] = {}
    for name, path in files.items():
        targets = imports_of(path.read_text(), name, path.name == "__init__.py", names)
        graph[name] = {t for t in targets
                       if t in names or t.split(".")[0] in FORBIDDEN_TOP} - {name}
    return graph


def layer_of(name: str, layers=LAYERS) -> int | None:
    best, best_len = None, -1
    for index, entry in enumerate(layers):
        for prefix in entry.split("|"):
            if (name == prefix or name.startswith(prefix + ".")) and len(prefix) > best_len:
                best, best_len = index, len(prefix)
    return best


def upward_imports(graph, layers=LAYERS, neutral=NEUTRAL) -> list[str]:
    bad = []
    for src, targets in graph.items():
        if src in neutral:
            continue
        for dst in targets:
            if dst in neutral or dst.split(".")[0] in FORBIDDEN_TOP:
                continue
            ls, ld = layer_of(src, layers), layer_of(dst, layers)
            if ls is None or ld is None or ld > ls:
                bad.append(f"{src} (layer {ls}) imports {dst} (layer {ld})")
    return sorted(bad)


def find_cycles(graph) -> list[list[str]]:
    """Strongly connected components with more than one module (Tarjan), sorted."""
    index: dict[str, int] = {}
    low: dict[str, int] = {}
    stack: list[str] = []
    on_stack: set[str] = set()
    out: list[list[str]] = []
    counter = [0]

    def visit(v):
        index[v] = low[v] = counter[0]
        counter[0] += 1
        stack.append(v)
        on_stack.add(v)
        for w in sorted(graph.get(v, ())):
            if w not in graph:
                continue
            if w not in index:
                visit(w)
                low[v] = min(low[v], low[w])
            elif w in on_stack:
                low[v] = min(low[v], index[w])
        if low[v] == index[v]:
            comp = []
            while True:
                w = stack.pop()
                on_stack.discard(w)
                comp.append(w)
                if w == v:
                    break
            if len(comp) > 1:
                out.append(sorted(comp))

    for v in sorted(graph):
        if v not in index:
            visit(v)
    return sorted(out)


@pytest.fixture(scope="module")
def graph():
    return build_graph()


def test_graph_covers_the_package(graph):
    assert {"simulator.cli", "simulator.solve.pipeline", "simulator.engines.embedded.engine",
            "electrodes.contacts", "protocols.esope"} <= set(graph)
    # a function-level import is seen (the pipeline imports the mesh cache inside run())
    assert "simulator.meshing.cache" in graph["simulator.solve.pipeline"]
    for name in graph:
        assert layer_of(name) is not None or name in NEUTRAL, name


def test_no_import_cycle(graph):
    assert find_cycles(graph) == []


def test_no_import_points_up_a_layer(graph):
    assert upward_imports(graph) == []


def test_library_does_not_import_benchmarks_or_tests(graph):
    bad = sorted(f"{s} -> {t}" for s, ts in graph.items() for t in ts if t.split(".")[0] in FORBIDDEN_TOP)
    assert bad == []


def test_checker_finds_planted_cycle_and_upward_import(tmp_path):
    """The checks above can fail: a planted cycle, an upward import (function-level) and a
    TYPE_CHECKING import (allowed) in a throw-away tree."""
    pkg = tmp_path / "simulator"
    for sub in ("physics", "solve"):
        (pkg / sub).mkdir(parents=True)
        (pkg / sub / "__init__.py").write_text("")
    (pkg / "__init__.py").write_text("")
    (pkg / "physics" / "a.py").write_text(
        "from typing import TYPE_CHECKING\nif TYPE_CHECKING:\n    from simulator.solve import c\n"
        "def f():\n    from simulator.solve.c import x\n")
    (pkg / "physics" / "b.py").write_text("from . import a\nimport simulator.physics.b2\n")
    (pkg / "physics" / "a2.py").write_text("from .b import y\n")
    (pkg / "physics" / "b2.py").write_text("import simulator.physics.a2\n")   # b -> b2 -> a2 -> b
    (pkg / "solve" / "c.py").write_text("x = 1\n")
    g = build_graph(tmp_path, ("simulator",))
    assert g["simulator.physics.a"] == {"simulator.solve.c"}      # function-level kept, TYPE_CHECKING not
    assert upward_imports(g) == ["simulator.physics.a (layer 3) imports simulator.solve.c (layer 8)"]
    assert find_cycles(g) == [["simulator.physics.a2", "simulator.physics.b", "simulator.physics.b2"]]
