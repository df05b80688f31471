"""Import arrows point one way: gigqd -> gigq_client, never back, and no module imports itself in a circle."""

from __future__ import annotations

import ast
from pathlib import Path
from typing import Iterator, Optional

from tests.conftest import ROOT

PACKAGES = ("gigq_client", "gigqd")


def _modules() -> dict[str, Path]:
    found = {}
    for package in PACKAGES:
        for path in sorted((Path(ROOT) / package).rglob("*.py")):
            parts = path.relative_to(ROOT).with_suffix("").parts
            found[".".join(parts[:-1] if parts[-1] == "__init__" else parts)] = path
    return found


MODULES = _modules()


def _is_type_checking(test: ast.expr) -> bool:
    return (isinstance(test, ast.Name) and test.id == "TYPE_CHECKING") or (
        isinstance(test, ast.Attribute) and test.attr == "TYPE_CHECKING")


def _imports(node: ast.AST) -> Iterator[ast.stmt]:
    """Every import statement, at module level or in a function, except under `if TYPE_CHECKING:`."""
    for child in ast.iter_child_nodes(node):
        if isinstance(child, (ast.Import, ast.ImportFrom)):
            yield child
        elif isinstance(child, ast.If) and _is_type_checking(child.test):
            yield from _imports(ast.Module(body=child.orelse, type_ignores=[]))
        else:
            yield from _imports(child)


def _base(module: str, statement: ast.ImportFrom) -> str:
    if not statement.level:
        return statement.module or ""
    package = module if MODULES[module].name == "__init__.py" else module.rpartition(".")[0]
    for _ in range(statement.level - 1):
        package = package.rpartition(".")[0]
    return f"{package}.{statement.module}" if statement.module else package


def _ours(name: str) -> Optional[str]:
    """The module of ours that importing `name` runs, or None for another project's."""
    while name and name not in MODULES:
        name = name.rpartition(".")[0]
    return name or None


def _targets(module: str, statement: ast.stmt) -> Iterator[str]:
    if isinstance(statement, ast.Import):
        names = [alias.name for alias in statement.names]
    else:
        base = _base(module, statement)
        names = [f"{base}.{alias.name}" if f"{base}.{alias.name}" in MODULES else base for alias in statement.names]
    for name in names:
        target = _ours(name)
        if target is not None and target != module:
            yield target


def import_graph() -> dict[str, set[str]]:
    graph = {}
    for module, path in MODULES.items():
        tree = ast.parse(path.read_text(), str(path))
        graph[module] = {target for statement in _imports(tree) for target in _targets(module, statement)}
    return graph


def find_cycle(graph: dict[str, set[str]]) -> Optional[list[str]]:
    """One import cycle (its modules, the first repeated at the end), or None."""
    finished: set[str] = set()

    def visit(path: list[str]) -> Optional[list[str]]:
        for target in sorted(graph.get(path[-1], ())):
            if target in path:
                return path[path.index(target):] + [target]
            if target not in finished:
                found = visit(path + [target])
                if found:
                    return found
        finished.add(path[-1])
        return None

    for start in sorted(graph):
        found = None if start in finished else visit([start])
        if found:
            return found
    return None


def test_the_graph_sees_imports_inside_functions_and_skips_type_checking_ones():
    graph = import_graph()
    assert "gigqd.supervisor.loop" in graph["gigqd.cli"]  # imported inside main()
    assert "gigqd.supervisor.loop" not in graph["gigqd.supervisor.status"]  # only under TYPE_CHECKING
    assert "gigq_client.store" in graph["gigq_client.queue"] and "gigqd.board" in graph["gigqd.worker.main"]


def test_gigq_client_never_imports_gigqd():
    edges = [f"{module} -> {target}" for module, targets in import_graph().items() if module.startswith("gigq_client")
             for target in sorted(targets) if target.split(".")[0] == "gigqd"]
    assert edges == []


def test_no_import_cycle():
    cycle = find_cycle(import_graph())
    assert cycle is None, "import cycle: " + " -> ".join(cycle)


def test_a_cycle_would_be_found_and_named():
    assert find_cycle({"a": {"b"}, "b": {"c"}, "c": {"a"}}) == ["a", "b", "c", "a"]
    assert find_cycle({"a": {"b", "c"}, "b": {"c"}, "c": set()}) is None
