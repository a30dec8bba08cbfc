"""How the modules may import each other, read from the source (no import is run).

The config composes the parts' own parsers, and the worker is given its settings and a
run function: so no module of the worker package imports the config or what reads it,
and no module imports another module's private names.
"""

from __future__ import annotations

import ast
from collections.abc import Iterator
from pathlib import Path

import syncbot

PACKAGE = Path(syncbot.__file__).parent

#: What the worker package must not import: the config, and what runs from it.
NOT_FOR_THE_WORKER = ("syncbot.config", "syncbot.sync", "syncbot.reconcile")


def module_name(path: Path) -> str:
    parts = path.relative_to(PACKAGE.parent).with_suffix("").parts
    return ".".join(parts[:-1] if parts[-1] == "__init__" else parts)


def imports(path: Path) -> Iterator[tuple[ast.stmt, str, list[str]]]:
    """Each import statement of a module at its top level: (statement, module, names)."""
    for node in ast.parse(path.read_text(encoding="utf-8")).body:
        if isinstance(node, ast.Import):
            for alias in node.names:
                yield node, alias.name, []
        elif isinstance(node, ast.ImportFrom) and node.module and not node.level:
            yield node, node.module, [alias.name for alias in node.names]


def test_the_worker_package_does_not_import_the_config() -> None:
    found = [
        f"{module_name(path)} imports {module}"
        for path in sorted((PACKAGE / "worker").glob("*.py"))
        for _, module, _ in imports(path)
        if any(module == name or module.startswith(f"{name}.") for name in NOT_FOR_THE_WORKER)
    ]
    assert found == []


def test_no_module_imports_private_names() -> None:
    found = [
        f"{module_name(path)}: from {module} import {name}"
        for path in sorted(PACKAGE.rglob("*.py"))
        for _, module, names in imports(path)
        for name in names
        if module.startswith("syncbot") and name.startswith("_") and not name.startswith("__")
    ]
    assert found == []


def import_graph() -> dict[str, set[str]]:
    """Module → the syncbot modules it imports when it is loaded (top level only: an import
    inside a function runs later, and `TYPE_CHECKING` blocks never)."""
    modules = {module_name(path): path for path in PACKAGE.rglob("*.py")}
    graph: dict[str, set[str]] = {}
    for name, path in modules.items():
        found = set()
        for _, module, names in imports(path):
            # `from syncbot.audit import writer` names a module; `import x` names itself.
            for candidate in [f"{module}.{n}" for n in names] or [module]:
                if candidate in modules:
                    found.add(candidate)
                elif module in modules:
                    found.add(module)
        graph[name] = found - {name}
    return graph


def cycles_in(graph: dict[str, set[str]]) -> list[list[str]]:
    """Every cycle a depth-first walk meets, each as the modules along it."""
    state: dict[str, str] = {}
    cycles: list[list[str]] = []

    def visit(module: str, path: list[str]) -> None:
        state[module] = "open"
        for child in sorted(graph.get(module, ())):
            if state.get(child) == "open":
                cycles.append([*path[path.index(child) :], child])
            elif child not in state:
                visit(child, [*path, child])
        state[module] = "done"

    for module in sorted(graph):
        if module not in state:
            visit(module, [module])
    return cycles


def test_the_cycle_finder_finds_a_cycle() -> None:
    assert cycles_in({"a": {"b"}, "b": {"c"}, "c": {"a"}, "d": {"a"}}) == [["a", "b", "c", "a"]]


def test_the_import_graph_has_no_cycle() -> None:
    graph = import_graph()
    assert {"syncbot.model", "syncbot.targets.base"} <= graph["syncbot.executor"]  # edges read
    assert cycles_in(graph) == []
