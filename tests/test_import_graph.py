"""Imports point one way: the top-level packages form layers, and below the UI none imports it."""

from __future__ import annotations

import ast
import subprocess
import sys
from collections import defaultdict

from config import PROJECT_DIR

# Top to bottom: a package imports only packages of lower layers (never one beside it).
LAYERS = (
    ("tests",),
    ("bench",),
    ("app",),
    ("dashboard", "commands"),
    ("notify", "readapi"),
    ("exports", "ingest", "demo"),
    ("reporting",),
    ("data_access", "servertools"),
    ("config",),
    ("clock",),
)
BELOW_THE_UI = (
    "reporting",
    "data_access",
    "exports",
    "ingest",
    "demo",
    "commands",
    "servertools",
    "notify",
    "readapi",
)
SKIPPED = {".venv", ".git", "data", "node_modules"}


def top_level_names() -> set[str]:
    names = {path.stem for path in PROJECT_DIR.glob("*.py")}
    names |= {path.parent.name for path in PROJECT_DIR.glob("*/__init__.py")}
    return names


def import_graph() -> dict[str, dict[str, set[str]]]:
    """package -> imported package -> the files that import it (every import, at any depth)."""
    names = top_level_names()
    graph: dict[str, dict[str, set[str]]] = defaultdict(lambda: defaultdict(set))
    for path in PROJECT_DIR.rglob("*.py"):
        relative = path.relative_to(PROJECT_DIR)
        if relative.parts[0] in SKIPPED:
            continue
        package = relative.parts[0] if len(relative.parts) > 1 else relative.stem
        for node in ast.walk(ast.parse(path.read_text(), str(path))):
            if isinstance(node, ast.Import):
                modules = [alias.name for alias in node.names]
            elif isinstance(node, ast.ImportFrom) and node.level == 0 and node.module:
                modules = [node.module]
            else:
                continue
            for module in modules:
                imported = module.split(".")[0]
                if imported in names and imported != package:
                    graph[package][imported].add(str(relative))
    return graph


def cycles(graph: dict[str, dict[str, set[str]]]) -> list[list[str]]:
    """Every cycle found by a depth-first walk, each as the packages along it."""
    found, done = [], set()

    def walk(package: str, path: list[str]) -> None:
        if package in path:
            found.append(path[path.index(package) :] + [package])
            return
        if package in done:
            return
        for imported in sorted(graph.get(package, {})):
            walk(imported, path + [package])
        done.add(package)

    for package in sorted(graph):
        walk(package, [])
    return found


def test_the_graph_sees_the_imports_it_checks():
    graph = import_graph()
    assert "exports/request.py" in graph["exports"]["reporting"]
    assert "commands/users.py" in graph["commands"]["reporting"]
    assert "app.py" in graph["app"]["dashboard"]
    assert cycles({"a": {"b": set()}, "b": {"c": set()}, "c": {"a": set()}}) == [
        ["a", "b", "c", "a"]
    ]


def test_no_cycle_between_top_level_packages():
    assert cycles(import_graph()) == []


def test_every_top_level_package_has_a_layer():
    layered = {name for layer in LAYERS for name in layer}
    assert sorted(top_level_names() - layered) == []


def test_each_package_imports_only_lower_layers():
    rank = {name: depth for depth, layer in enumerate(LAYERS) for name in layer}
    wrong = [
        f"{package} -> {imported} ({', '.join(sorted(files))})"
        for package, imports in sorted(import_graph().items())
        for imported, files in sorted(imports.items())
        if rank[imported] <= rank[package]
    ]
    assert wrong == []


def test_nothing_below_the_ui_imports_it():
    graph = import_graph()
    for package in BELOW_THE_UI:
        assert "dashboard" not in graph[package], (package, graph[package]["dashboard"])
        assert "app" not in graph[package], (package, graph[package]["app"])
    assert "tests" not in graph["bench"]


def test_the_export_worker_does_not_load_the_ui():
    probe = (
        "import sys, commands.export_worker, exports.worker\n"
        "print(sorted(m for m in ('dashboard', 'dash', 'plotly', 'flask') if m in sys.modules))"
    )
    result = subprocess.run(
        [sys.executable, "-c", probe],
        cwd=PROJECT_DIR,
        capture_output=True,
        text=True,
        timeout=120,
        check=True,
    )
    assert result.stdout.strip() == "[]"
