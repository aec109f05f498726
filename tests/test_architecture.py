"""The layers hold: `bot/` and `storage/` import no adapter, no composition root and no platform
SDK, `storage/` does not import the core, and no two modules import each other (directly or
round a loop). Read from the source with `ast`, so it needs nothing installed."""

from __future__ import annotations

import ast
from collections.abc import Iterator
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
PACKAGES = ("bot", "storage", "adapters", "app")
PLATFORM_SDKS = ("slack_bolt", "slack_sdk", "botbuilder", "botframework", "microsoft_agents")
# What each layer may not import (any import, at the top or inside a function).
FORBIDDEN = {
    "bot": ("adapters", "app", *PLATFORM_SDKS),
    "storage": ("bot", "adapters", "app", *PLATFORM_SDKS),
}


def project_modules() -> dict[str, Path]:
    found = {}
    for package in PACKAGES:
        for path in (ROOT / package).rglob("*.py"):
            if "migrations/versions" in path.as_posix():
                continue  # generated Alembic revisions
            parts = list(path.relative_to(ROOT).with_suffix("").parts)
            if parts[-1] == "__init__":
                parts.pop()
            found[".".join(parts)] = path
    return found


MODULES = project_modules()


def imported(tree: ast.Module, *, top_level_only: bool) -> Iterator[str]:
    """The modules a file imports; `from pkg import sub` counts as `pkg.sub` when that is a
    module. With `top_level_only`, imports inside functions and under `if TYPE_CHECKING` (which
    run later or never, so they cannot form an import cycle) are left out."""

    def walk(nodes: list[ast.stmt]) -> Iterator[str]:
        for node in nodes:
            if isinstance(node, ast.Import):
                yield from (alias.name for alias in node.names)
            elif isinstance(node, ast.ImportFrom) and node.level == 0 and node.module:
                for alias in node.names:
                    full = f"{node.module}.{alias.name}"
                    yield full if full in MODULES else node.module
            elif _runs_later(node):
                if not top_level_only:
                    yield from walk(node.body)
            elif isinstance(node, ast.Try):
                yield from walk(node.body)
                for handler in node.handlers:
                    yield from walk(handler.body)
                yield from walk(node.orelse + node.finalbody)
            elif isinstance(node, ast.ClassDef | ast.If | ast.With | ast.AsyncWith | ast.For):
                yield from walk(node.body + getattr(node, "orelse", []))

    yield from walk(tree.body)


def _runs_later(node: ast.stmt) -> bool:
    """A function's body (runs when called) or an `if TYPE_CHECKING:` block (never runs)."""
    if isinstance(node, ast.FunctionDef | ast.AsyncFunctionDef):
        return True
    return isinstance(node, ast.If) and "TYPE_CHECKING" in ast.unparse(node.test)


def import_graph() -> dict[str, set[str]]:
    graph = {}
    for name, path in MODULES.items():
        tree = ast.parse(path.read_text(encoding="utf-8"))
        graph[name] = {m for m in imported(tree, top_level_only=True) if m in MODULES} - {name}
    return graph


def cycles(graph: dict[str, set[str]]) -> list[list[str]]:
    """The strongly connected groups of more than one module (Tarjan), each sorted."""
    index: dict[str, int] = {}
    low: dict[str, int] = {}
    stack: list[str] = []
    on_stack: set[str] = set()
    found: list[list[str]] = []

    def visit(node: str) -> None:
        index[node] = low[node] = len(index)
        stack.append(node)
        on_stack.add(node)
        for other in sorted(graph.get(node, ())):
            if other not in index:
                visit(other)
                low[node] = min(low[node], low[other])
            elif other in on_stack:
                low[node] = min(low[node], index[other])
        if low[node] == index[node]:
            group = []
            while True:
                member = stack.pop()
                on_stack.discard(member)
                group.append(member)
                if member == node:
                    break
            if len(group) > 1:
                found.append(sorted(group))

    for node in sorted(graph):
        if node not in index:
            visit(node)
    return found


def test_the_core_and_storage_import_no_adapter_root_or_platform_sdk() -> None:
    broken = []
    for name, path in MODULES.items():
        layer = name.split(".")[0]
        if layer not in FORBIDDEN:
            continue
        tree = ast.parse(path.read_text(encoding="utf-8"))
        for module in imported(tree, top_level_only=False):
            if module.split(".")[0] in FORBIDDEN[layer]:
                broken.append(f"{name} imports {module}")
    assert broken == []


def test_no_modules_import_each_other() -> None:
    assert cycles(import_graph()) == []


def test_the_checks_see_what_they_look_for() -> None:
    """The walker finds imports inside functions and classes, and the cycle finder loops."""
    tree = ast.parse(
        "import a\n"
        "from b import c\n"
        "def f():\n    from adapters.slack import x\n"
        "class K:\n    import slack_bolt\n"
        "try:\n    import d\nexcept ImportError:\n    import e\n"
    )
    assert set(imported(tree, top_level_only=False)) == {
        "a",
        "b",
        "adapters.slack",
        "slack_bolt",
        "d",
        "e",
    }
    assert set(imported(tree, top_level_only=True)) == {"a", "b", "slack_bolt", "d", "e"}
    graph = {"x": {"y"}, "y": {"z"}, "z": {"x"}, "w": {"x"}}
    assert cycles(graph) == [["x", "y", "z"]]
    assert "bot.core" in import_graph()["app.server"]  # the real graph has its edges
