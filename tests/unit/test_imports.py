"""The package's imports go one way: no cycle between modules of ``authprobe``, and no module
imports from a layer above its own. Every import counts, also one inside a function or
under ``if TYPE_CHECKING``: each ties the modules together all the same."""

from __future__ import annotations

import ast
from pathlib import Path

import authprobe

ROOT = Path(authprobe.__file__).resolve().parent
PACKAGE = "authprobe"

# Bottom to top: a module may import from its own layer and the layers below it. The first
# part of a module's name under authprobe names its layer ("authprobe" itself: the package's
# __init__).
LAYERS: list[set[str]] = [
    {PACKAGE, "errors", "paths", "progress", "wait"},  # what every part uses
    {"model"},  # the data: versions, profiles, expectations, outcomes
    {"host"},  # the machine: Docker engine, tools, capacity
    {"servers"},  # the HTTPS servers kube-apiserver calls, and the config files naming them
    {"nodeimage"},  # building a node image
    {"upgradeimage"},  # what a node image carries for an upgrade
    {"harness"},  # clusters and their lifecycle
    {"scenario"},  # helpers scenarios import
    {"report"},  # reports of outcomes
    {"team"},  # a team's own: its kubeadm configuration imported, the rows recorded from runs
    {"readme"},  # the README's generated tables
    {"plugin"},  # the pytest plugin
    {"commands"},  # the command line's subcommands
    {"cli"},  # the command line
]


def module_name(path: Path) -> str:
    parts = path.relative_to(ROOT.parent).with_suffix("").parts
    return ".".join(parts[:-1] if parts[-1] == "__init__" else parts)


def modules() -> dict[str, Path]:
    return {module_name(path): path for path in sorted(ROOT.rglob("*.py"))}


def imported(name: str, path: Path, known: set[str]) -> set[str]:
    """The modules of the package that ``name`` imports; ``from x import y`` names module
    x.y when that is a module, else module x."""
    package = name if path.name == "__init__.py" else name.rpartition(".")[0]
    found = set()
    for node in ast.walk(ast.parse(path.read_text(), str(path))):
        if isinstance(node, ast.Import):
            targets = [alias.name for alias in node.names]
        elif isinstance(node, ast.ImportFrom):
            if node.level:
                base = package.split(".")[:len(package.split(".")) - (node.level - 1)]
                module = ".".join(base + ([node.module] if node.module else []))
            else:
                module = node.module or ""
            targets = [f"{module}.{alias.name}" if f"{module}.{alias.name}" in known
                       else module for alias in node.names]
        else:
            continue
        found.update(t for t in targets if t == PACKAGE or t.startswith(PACKAGE + "."))
    return found


def graph() -> dict[str, set[str]]:
    found = modules()
    known = set(found)
    return {name: {t for t in imported(name, path, known) if t != name}
            for name, path in found.items()}


def layer_of(module: str) -> int:
    part = module.split(".")[1] if "." in module else module
    for index, members in enumerate(LAYERS):
        if part in members:
            return index
    raise AssertionError(f"module {module} is in no layer: add its part to LAYERS")


def cycles(edges: dict[str, set[str]]) -> list[list[str]]:
    """Every strongly connected group of more than one module (Tarjan), each in a stable
    order, with one cycle through it as a path."""
    index: dict[str, int] = {}
    low: dict[str, int] = {}
    stack: list[str] = []
    on_stack: set[str] = set()
    groups: list[list[str]] = []

    def visit(node: str) -> None:
        index[node] = low[node] = len(index)
        stack.append(node)
        on_stack.add(node)
        for nxt in sorted(edges.get(node, ())):
            if nxt not in index:
                visit(nxt)
                low[node] = min(low[node], low[nxt])
            elif nxt in on_stack:
                low[node] = min(low[node], index[nxt])
        if low[node] == index[node]:
            group = []
            while True:
                member = stack.pop()
                on_stack.discard(member)
                group.append(member)
                if member == node:
                    break
            if len(group) > 1:
                groups.append(sorted(group))

    for node in sorted(edges):
        if node not in index:
            visit(node)
    return [path_through(group, edges) for group in groups]


def path_through(group: list[str], edges: dict[str, set[str]]) -> list[str]:
    """One cycle within ``group``, from its first module back to it."""
    start, members = group[0], set(group)
    paths = {start: [start]}
    todo = [start]
    while todo:
        node = todo.pop(0)
        for nxt in sorted(edges[node] & members):
            if nxt == start:
                return paths[node] + [start]
            if nxt not in paths:
                paths[nxt] = paths[node] + [nxt]
                todo.append(nxt)
    return group


def test_every_module_is_read_and_imports_are_found():
    edges = graph()
    assert "authprobe.harness.pool" in edges and "authprobe.cli" in edges
    assert "authprobe.harness.lifecycle" in edges["authprobe.harness.pool"]
    # an import inside a function counts (the plugin imports the pool when it plans)
    assert "authprobe.harness.pool" in edges["authprobe.plugin.session"]


def test_no_import_cycle():
    found = cycles(graph())
    assert not found, "import cycles: " + "; ".join(" -> ".join(c) for c in found)


def test_no_import_from_a_higher_layer():
    upward = sorted(f"{module} -> {target}" for module, targets in graph().items()
                    for target in targets if layer_of(target) > layer_of(module))
    assert not upward, "imports from a higher layer: " + "; ".join(upward)


def test_the_checks_find_a_cycle_and_an_upward_arrow():
    edges = {"authprobe.harness.a": {"authprobe.harness.b"},
             "authprobe.harness.b": {"authprobe.harness.c"},
             "authprobe.harness.c": {"authprobe.harness.a", "authprobe.model.x"},
             "authprobe.model.x": {"authprobe.report.y"}, "authprobe.report.y": set()}
    assert cycles(edges) == [["authprobe.harness.a", "authprobe.harness.b",
                              "authprobe.harness.c", "authprobe.harness.a"]]
    assert layer_of("authprobe.report.y") > layer_of("authprobe.model.x")


def test_relative_imports_resolve_to_the_module_they_name(tmp_path):
    source = tmp_path / "pool.py"
    source.write_text("from . import steps\nfrom ..model.cell import Cell\n"
                      "def later():\n    from .upgrade import upgraded_run\n")
    known = {"authprobe.harness.steps", "authprobe.harness.upgrade", "authprobe.model.cell"}
    assert imported("authprobe.harness.pool", source, known) == known
