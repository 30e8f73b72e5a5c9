"""The tree's rooms and their import rules (the architecture issue), checked with `ast` over the source.

A room imports only rooms below it: adapters -> bot (core) -> engine / summary / storage -> shared
foundations (`bot.models`, `bot.errors`, `bot.config`, `bot.retry`, `bot.http_api`, `bot.render`)."""

from __future__ import annotations

import ast
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parent.parent
PACKAGES = ("bot", "adapters", "storage")
FOUNDATIONS = {"bot.models", "bot.errors", "bot.config", "bot.retry", "bot.http_api", "bot.render"}


def module_name(path: Path) -> str:
    parts = list(path.relative_to(ROOT).with_suffix("").parts)
    if parts[-1] == "__init__":
        parts.pop()
    return ".".join(parts)


MODULES = {
    module_name(p): p for pkg in PACKAGES for p in (ROOT / pkg).rglob("*.py") if ".venv" not in p.parts
}


def _type_checking_only(node: ast.AST, parents: dict[ast.AST, ast.AST]) -> bool:
    while node in parents:
        node = parents[node]
        if isinstance(node, ast.If) and "TYPE_CHECKING" in ast.unparse(node.test):
            return True
    return False


def imports_of(name: str) -> dict[str, bool]:
    """Project modules `name` imports, each with whether the import is lazy (inside a function)."""
    tree = ast.parse(MODULES[name].read_text())
    parents = {child: node for node in ast.walk(tree) for child in ast.iter_child_nodes(node)}
    found: dict[str, bool] = {}
    for node in ast.walk(tree):
        if not isinstance(node, (ast.Import, ast.ImportFrom)) or _type_checking_only(node, parents):
            continue
        lazy = any(isinstance(p, (ast.FunctionDef, ast.AsyncFunctionDef)) for p in _ancestors(node, parents))
        if isinstance(node, ast.Import):
            targets = [alias.name for alias in node.names]
        else:
            base = node.module or ""
            # `from pkg import submodule` depends on the submodule, not on the package's __init__.
            targets = [f"{base}.{a.name}" if f"{base}.{a.name}" in MODULES else base for a in node.names]
        for target in targets:
            if target in MODULES and target != name:
                found[target] = found.get(target, True) and lazy
    return found


def _ancestors(node: ast.AST, parents: dict[ast.AST, ast.AST]):
    while node in parents:
        node = parents[node]
        yield node


GRAPH = {name: imports_of(name) for name in MODULES}


def in_room(module: str, room: str) -> bool:
    return module == room or module.startswith(room + ".")


def test_the_tree_has_its_rooms():
    for room in ("bot.engine", "bot.service", "bot.summary", "bot.platform", "storage.base", "storage.sqlite"):
        assert room in MODULES, room
    assert "bot.summaries" not in MODULES and "adapters.base" not in MODULES


def test_only_the_registry_in_bot_names_the_adapters():
    offenders = {m for m in MODULES if in_room(m, "bot") and any(in_room(t, "adapters") for t in GRAPH[m])}
    assert offenders == {"bot.registry"}


def test_no_import_cycles():
    """Module-level imports only: a lazy import inside a function cannot form a cycle at import time,
    but eager ones must form a DAG."""
    eager = {m: [t for t, lazy in deps.items() if not lazy] for m, deps in GRAPH.items()}
    state: dict[str, int] = {}
    stack: list[str] = []

    def visit(m: str) -> None:
        state[m] = 1
        stack.append(m)
        for t in eager[m]:
            if state.get(t) == 1:
                raise AssertionError("import cycle: " + " -> ".join(stack[stack.index(t):] + [t]))
            if t not in state:
                visit(t)
        stack.pop()
        state[m] = 2

    for m in sorted(MODULES):
        if m not in state:
            visit(m)


@pytest.mark.parametrize(
    ("room", "may_import"),
    [
        # The engine knows audio and text, not chat, jobs or storage.
        ("bot.engine", {"bot.engine"} | FOUNDATIONS),
        # The service is a thin HTTP layer over the engine.
        ("bot.service", {"bot.service", "bot.engine"} | FOUNDATIONS),
        # Storage is a leaf: value types only.
        ("storage", {"storage", "bot.models"}),
        # Foundations import only each other.
        *[(f, FOUNDATIONS) for f in sorted(FOUNDATIONS)],
    ],
)
def test_rooms_import_only_rooms_below(room, may_import):
    bad = {
        (m, t)
        for m in MODULES
        if in_room(m, room)
        for t in GRAPH[m]
        if not any(in_room(t, allowed) for allowed in may_import)
    }
    assert not bad, sorted(bad)


def test_summary_does_not_import_the_core():
    core = {"bot.core", "bot.pipeline", "bot.live_reply", "bot.commands", "bot.runner", "bot.cli", "bot.registry"}
    bad = {(m, t) for m in MODULES if in_room(m, "bot.summary") for t in GRAPH[m] if t in core}
    assert not bad, sorted(bad)


def test_the_transcriber_protocol_imports_no_implementation():
    assert not any(in_room(t, "bot.engine") for t in GRAPH["bot.engine.transcriber"])
