"""The shape of the code (issue 13, point 3): no import cycle in the library, no function
longer than a page, and a DAG that is built without the heavy libraries."""

from __future__ import annotations

import ast
import subprocess
import sys

from conftest import REPO, SNAKEMAKE, TINY
from regscale import codeversion

LIBRARY = REPO / "src" / "regscale"
MAX_FUNCTION_LINES = 60
HEAVY = ("torch", "torchvision", "timm", "seaborn", "statsmodels", "matplotlib", "scipy")


def import_graph() -> dict[str, set[str]]:
    """module -> the library modules it imports anywhere in its code (lazy imports too)."""
    graph = {}
    for path in LIBRARY.rglob("*.py"):
        name = codeversion._module_name(path)
        graph[name] = set(codeversion._module(name)[1]) - {"regscale"}
    return graph


def find_cycle(graph: dict[str, set[str]]) -> list[str] | None:
    """A path that returns to its start, or None (depth-first search)."""
    state: dict[str, str] = {}

    def visit(module, path):
        state[module] = "open"
        for imported in sorted(graph.get(module, ())):
            if state.get(imported) == "open":
                return path[path.index(imported) :] + [imported]
            if imported not in state:
                found = visit(imported, path + [imported])
                if found:
                    return found
        state[module] = "done"
        return None

    for module in sorted(graph):
        if module not in state:
            found = visit(module, [module])
            if found:
                return found
    return None


def test_the_library_has_no_import_cycle():
    graph = import_graph()
    assert "regscale.config" not in graph["regscale.jobspec"]  # the cycle this test was written for
    assert find_cycle(graph) is None, " -> ".join(find_cycle(graph))


def test_the_cycle_check_finds_a_planted_cycle():
    graph = {"regscale.a": {"regscale.b"}, "regscale.b": {"regscale.c"}, "regscale.c": {"regscale.a"}}
    assert find_cycle(graph) == ["regscale.a", "regscale.b", "regscale.c", "regscale.a"]
    assert find_cycle({"regscale.a": {"regscale.b"}, "regscale.b": set()}) is None


def docstring_lines(node: ast.FunctionDef) -> int:
    first = node.body[0]
    if isinstance(first, ast.Expr) and isinstance(first.value, ast.Constant) and isinstance(first.value.value, str):
        return first.end_lineno - first.lineno + 1
    return 0


def test_no_function_is_longer_than_a_page():
    """At most MAX_FUNCTION_LINES lines of signature and code (the docstring aside)."""
    long = []
    for path in sorted(LIBRARY.rglob("*.py")) + sorted((REPO / "scripts").glob("*.py")):
        for node in ast.walk(ast.parse(path.read_text())):
            if isinstance(node, (ast.FunctionDef, ast.AsyncFunctionDef)):
                lines = node.end_lineno - node.lineno + 1 - docstring_lines(node)
                if lines > MAX_FUNCTION_LINES:
                    long.append(f"{path.relative_to(REPO)}:{node.lineno} {node.name} ({lines} lines)")
    assert not long, "functions over a page:\n" + "\n".join(long)


def test_building_the_dag_imports_no_heavy_library(tmp_path):
    # Python's import log of a dry run: Snakemake builds the whole DAG in this process.
    command = [sys.executable, "-X", "importtime", str(SNAKEMAKE), "-n", "-s", str(REPO / "Snakefile")]
    command += ["--directory", str(tmp_path), "--configfile", str(TINY)]
    result = subprocess.run(command, capture_output=True, text=True)
    assert result.returncode == 0, result.stderr[-3000:]
    assert "train" in result.stdout and "simulate_shard" in result.stdout
    imported = {line.rsplit("|", 1)[1].strip() for line in result.stderr.splitlines() if line.startswith("import time:")}
    assert "regscale.jobspec" in imported and "regscale.figures.registry" in imported
    assert not imported & set(HEAVY), sorted(imported & set(HEAVY))
