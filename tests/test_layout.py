"""The shape of the house, held by a test: the flow runs one way, the domain stands alone, the store knows only
the domain, the core knows no chat platform, and no test module leans on another. Read from the code's own
imports (every import statement, inside functions too), so a change that breaks a rule fails here."""

from __future__ import annotations

import ast
from collections.abc import Iterator
from pathlib import Path

import pytest

from tests.support.cli import REPO

PACKAGES = ("bot", "store", "adapters")


def modules(*roots: str) -> Iterator[tuple[str, Path]]:
    for root in roots:
        for path in sorted((REPO / root).rglob("*.py")):
            parts = path.relative_to(REPO).with_suffix("").parts
            yield ".".join(parts[:-1] if parts[-1] == "__init__" else parts), path


def imported(path: Path) -> set[str]:
    """Every module an import statement in `path` names (`from a.b import c` names `a.b` and `a.b.c`)."""
    found: set[str] = set()
    for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
        if isinstance(node, ast.Import):
            found.update(alias.name for alias in node.names)
        elif isinstance(node, ast.ImportFrom) and node.module and node.level == 0:
            found.add(node.module)
            found.update(f"{node.module}.{alias.name}" for alias in node.names)
    return found


def project_imports(path: Path, known: set[str]) -> set[str]:
    return {name for name in imported(path) if name in known}


KNOWN = {name for name, _ in modules(*PACKAGES)}


@pytest.mark.parametrize(("name", "path"), list(modules("store")), ids=lambda value: str(value))
def test_the_store_imports_nothing_of_bot_but_the_domain(name: str, path: Path) -> None:
    outside = {target for target in project_imports(path, KNOWN)
               if target.startswith(("bot", "adapters")) and not target.startswith("bot.domain")}
    assert not outside, f"{name} imports {sorted(outside)}"


@pytest.mark.parametrize(("name", "path"), list(modules("bot/domain")), ids=lambda value: str(value))
def test_the_domain_imports_nothing_else_of_the_project(name: str, path: Path) -> None:
    outside = {target for target in project_imports(path, KNOWN) if not target.startswith("bot.domain")}
    assert not outside, f"{name} imports {sorted(outside)}"


@pytest.mark.parametrize(("name", "path"), list(modules("bot", "store")), ids=lambda value: str(value))
def test_the_core_knows_no_chat_platform(name: str, path: Path) -> None:
    platforms = {target for target in imported(path)
                 if target.split(".")[0] in {"discord", "slack_sdk", "slack_bolt"}}
    assert not platforms, f"{name} imports {sorted(platforms)}"


def test_no_import_circle() -> None:
    graph = {name: {target for target in project_imports(path, KNOWN) if target != name}
             for name, path in modules(*PACKAGES)}
    # A package's __init__ is not an arrow of its own: `from bot.commands import answers` names the module.
    packages = {name for name in graph if (REPO / name.replace(".", "/")).is_dir()}
    graph = {name: targets - packages for name, targets in graph.items()}
    on_path: list[str] = []
    done: set[str] = set()

    def visit(name: str) -> None:
        if name in done:
            return
        if name in on_path:
            circle = [*on_path[on_path.index(name):], name]
            raise AssertionError(f"import circle: {' -> '.join(circle)}")
        on_path.append(name)
        for target in sorted(graph.get(name, ())):
            visit(target)
        on_path.pop()
        done.add(name)

    for name in sorted(graph):
        visit(name)


def test_no_test_module_imports_another() -> None:
    tests = {name for name, path in modules("tests") if path.name.startswith("test_")}
    leaning = {name: sorted(imported(path) & tests) for name, path in modules("tests") if imported(path) & tests}
    assert not leaning, f"shared helpers belong in tests/support/: {leaning}"
