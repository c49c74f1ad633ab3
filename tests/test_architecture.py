"""The package's import graph: no loops, no upward imports, one home per concept."""

from __future__ import annotations

import ast
import re
from pathlib import Path

import pytest

PKG = Path(__file__).resolve().parent.parent / "planner"

# layers from the bottom up; a module may import its own layer and those below, never above
LAYERS = [
    {"units", "errors", "fmt", "validation", "yamlio", "stats", "data", "kinds", "escape", "ownership", "deadline",
     "pace"},
    {"arch", "catalog", "metrics", "perf", "summary"},
    {"plan", "scenario", "deliveries_file"},
    {"loader", "results", "costs", "bridge", "edits", "strategy", "whatif"},
    {"cashflow"},
    {"sim", "calibrate", "budget", "transfer"},
    {"api", "report"},
    {"decide"},
    {"cli"},
]
LEVEL = {name: i for i, layer in enumerate(LAYERS) for name in layer}


def _modules() -> dict[str, Path]:
    out = {}
    for path in PKG.rglob("*.py"):
        rel = path.relative_to(PKG.parent).with_suffix("")
        parts = list(rel.parts)
        if parts[-1] == "__init__":
            parts = parts[:-1]
        out[".".join(parts)] = path
    return out


def _walk_runtime(tree: ast.AST):
    """Every node except those under ``if TYPE_CHECKING:`` (imports for annotations only)."""
    todo = [tree]
    while todo:
        node = todo.pop()
        yield node
        for child in ast.iter_child_nodes(node):
            if isinstance(child, ast.If) and isinstance(child.test, ast.Name) and child.test.id == "TYPE_CHECKING":
                continue
            todo.append(child)


def _imports(name: str, path: Path) -> set[str]:
    """Modules of the package that ``name`` imports (at any depth of its code)."""
    tree = ast.parse(path.read_text(encoding="utf-8"))
    package = name if path.name == "__init__.py" else name.rsplit(".", 1)[0]
    found = set()
    for node in _walk_runtime(tree):
        if isinstance(node, ast.Import):
            found |= {a.name for a in node.names if a.name.startswith("planner")}
        elif isinstance(node, ast.ImportFrom):
            if node.level:
                base = package.split(".")
                base = base[: len(base) - node.level + 1]
                mod = ".".join(base + ([node.module] if node.module else []))
            else:
                mod = node.module or ""
            if mod.startswith("planner"):
                found.add(mod)
                found |= {f"{mod}.{a.name}" for a in node.names}
    mods = _modules()
    return {m for m in found if m in mods and m != name}


def _top(mod: str) -> str:
    parts = mod.split(".")
    return parts[1] if len(parts) > 1 else ""


GRAPH = {name: _imports(name, path) for name, path in _modules().items()}


def test_every_module_has_a_layer() -> None:
    missing = sorted({_top(m) for m in GRAPH if _top(m) and _top(m) not in LEVEL})
    assert not missing, f"modules not placed in a layer: {missing}"


@pytest.mark.parametrize("name", sorted(m for m in GRAPH if _top(m)))
def test_no_upward_import(name: str) -> None:
    own = LEVEL[_top(name)]
    upward = sorted(m for m in GRAPH[name] if _top(m) and _top(m) != _top(name) and LEVEL[_top(m)] > own)
    assert not upward, f"{name} (layer {own}) imports from a higher layer: {upward}"


def test_no_import_loop() -> None:
    """Depth-first search for a cycle among modules (package __init__ files excluded: they only re-export)."""
    graph = {k: {m for m in v if not (PKG.parent / m.replace(".", "/") / "__init__.py").exists()}
             for k, v in GRAPH.items() if not (PKG.parent / k.replace(".", "/") / "__init__.py").exists()}
    state: dict[str, int] = {}

    def visit(node: str, stack: list[str]) -> None:
        state[node] = 1
        for nxt in sorted(graph.get(node, ())):
            if state.get(nxt) == 1:
                raise AssertionError("import loop: " + " -> ".join(stack + [node, nxt]))
            if nxt not in state:
                visit(nxt, stack + [node])
        state[node] = 2

    for node in sorted(graph):
        if node not in state:
            visit(node, [])


def test_core_never_imports_streamlit() -> None:
    offenders = [str(p.relative_to(PKG.parent)) for p in PKG.rglob("*.py")
                 if re.search(r"^\s*(import|from)\s+streamlit", p.read_text(encoding="utf-8"), re.M)]
    assert not offenders


def test_cost_model_never_imports_simpy() -> None:
    offenders = [str(p.relative_to(PKG.parent)) for p in (PKG / "perf").rglob("*.py")
                 if re.search(r"^\s*(import|from)\s+simpy", p.read_text(encoding="utf-8"), re.M)]
    assert not offenders


@pytest.mark.parametrize("pattern, home", [
    (r"^class Workload\b", "scenario.py"),
    (r"^class Parallelism\b", "perf/layout.py"),
    (r"^class Layout\b", "perf/layout.py"),
    (r"^(METRICS|KEYS)\s*[:=]", "metrics.py"),
    (r"np\.quantile\(", "stats.py"),
    (r"reserved_fraction\) \+ 1e-9|\* \(1\.0 - reserved_fraction\)", "plan.py"),
    (r"tdp_w / 1000", "costs.py"),
    (r"def layout_planners|def pool_layout", "bridge.py"),
])
def test_one_home_per_concept(pattern: str, home: str) -> None:
    hits = sorted(str(p.relative_to(PKG)) for p in PKG.rglob("*.py")
                  if re.search(pattern, p.read_text(encoding="utf-8"), re.M))
    assert hits == [home], f"{pattern!r} is defined in {hits}, want only {home}"
