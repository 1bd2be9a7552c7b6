"""Code versions read from the code itself, for deciding what is stale.

A job is stale when the meaning of the code that makes it changed. This module turns
that into a digest: the script a rule runs, and every module of this package that the
script reaches through its imports (transitively, found by reading the import
statements), each reduced to its abstract syntax tree with docstrings removed. So a
comment, a docstring, a blank line, a reformatting, ``touch`` or a ``git checkout``
leaves the digest alone, while any change to what the code does moves it.

Imports anywhere in a module count, including those inside functions, so the digest
errs on the side of rerunning. Modules outside the package (torch, numpy, ...) are
left out: their versions belong to the software environment, not to this repository.

The workflow passes the digest to each rule as its ``code`` param (see the
Snakefile), and Snakemake's params trigger does the rest.
"""

from __future__ import annotations

import ast
import hashlib
from functools import cache
from pathlib import Path

PACKAGE = "regscale"
PACKAGE_DIR = Path(__file__).resolve().parent


def stripped_tree(tree: ast.Module) -> str:
    """The module's syntax tree as text, without docstrings, comments or positions
    (docstrings are removed from ``tree`` in place)."""
    for node in ast.walk(tree):
        if isinstance(node, (ast.Module, ast.ClassDef, ast.FunctionDef, ast.AsyncFunctionDef)):
            body = node.body
            if body and isinstance(body[0], ast.Expr) and isinstance(body[0].value, ast.Constant):
                if isinstance(body[0].value.value, str):
                    node.body = body[1:] or [ast.Pass()]
    return ast.dump(tree, annotate_fields=False, include_attributes=False)


def module_file(name: str) -> Path | None:
    """The source file of a module of this package (None for anything else)."""
    parts = name.split(".")
    if parts[0] != PACKAGE:
        return None
    base = PACKAGE_DIR.joinpath(*parts[1:])
    for candidate in (base.with_suffix(".py"), base / "__init__.py"):
        if candidate.is_file():
            return candidate
    return None


def _imported_names(tree: ast.AST, module: str, is_package: bool) -> set[str]:
    """Dotted names of every module an import statement in ``tree`` may load."""
    names = set()
    for node in ast.walk(tree):
        if isinstance(node, ast.Import):
            for alias in node.names:
                parts = alias.name.split(".")
                names.update(".".join(parts[: i + 1]) for i in range(len(parts)))
        elif isinstance(node, ast.ImportFrom):
            if node.level:
                package = module.split(".") if is_package else module.split(".")[:-1]
                package = package[: len(package) - (node.level - 1)]
                base = ".".join(package + ([node.module] if node.module else []))
            else:
                base = node.module
            parts = base.split(".")
            names.update(".".join(parts[: i + 1]) for i in range(len(parts)))
            # `from package import name` loads package.name when that is a module
            names.update(f"{base}.{alias.name}" for alias in node.names)
    return names


@cache
def _module(name: str) -> tuple[str, frozenset[str]]:
    """(stripped tree, project modules it imports) of one module of the package."""
    path = module_file(name)
    tree = _parse(path)
    imported = _imported_names(tree, name, path.name == "__init__.py")
    return stripped_tree(tree), frozenset(n for n in imported if module_file(n))


def _parse(path: Path) -> ast.Module:
    return ast.parse(path.read_text(), filename=str(path))


def reached_modules(path: Path | str) -> list[str]:
    """Every module of the package that the script or module at ``path`` reaches
    through imports, transitively, sorted."""
    path = Path(path)
    tree = _parse(path)
    name = _module_name(path)
    is_package = path.name == "__init__.py"
    todo = [n for n in _imported_names(tree, name, is_package) if module_file(n)]
    seen: set[str] = set()
    while todo:
        current = todo.pop()
        if current in seen:
            continue
        seen.add(current)
        todo.extend(_module(current)[1] - seen)
    seen.discard(name)
    return sorted(seen)


def _module_name(path: Path) -> str:
    """The dotted name of a file inside the package; a script's own name otherwise."""
    try:
        relative = path.resolve().relative_to(PACKAGE_DIR.parent)
    except ValueError:
        return f"__script__.{path.stem}"
    parts = list(relative.with_suffix("").parts)
    if parts[-1] == "__init__":
        parts.pop()
    return ".".join(parts)


def code_version(path: Path | str, per_entry: str | None = None) -> str:
    """A short digest of the meaning of a script (or module) and of every module of
    the package it reaches: the same before and after any edit that only touches
    comments, docstrings or formatting.

    ``per_entry``: a registry module (regscale.archs) of which only the shared part
    counts, for jobs that add the version of their own entry (:func:`entry_version`):
    then registering a new architecture, or changing one, leaves the jobs of the
    others alone."""
    path = Path(path)
    digest = hashlib.sha256(stripped_tree(_parse(path)).encode())
    for name in reached_modules(path):
        digest.update(f"\0{name}\0".encode())
        digest.update((_registry(name)[0] if name == per_entry else _module(name)[0]).encode())
    return digest.hexdigest()[:16]


def entry_version(module: str, entry: str) -> str:
    """A short digest of one entry of a registry module: its top-level
    ``register(Kind("<entry>", ...))`` statement and the module's functions it names."""
    entries = _registry(module)[1]
    if entry not in entries:
        raise ValueError(f"{module} registers no {entry!r}; it registers {sorted(entries)}")
    return hashlib.sha256(entries[entry].encode()).hexdigest()[:16]


@cache
def _registry(name: str) -> tuple[str, dict[str, str]]:
    """(the module without its registrations and the functions only they name,
    {entry: its registration and those functions}), each as a stripped tree."""
    tree = _parse(module_file(name))
    stripped_tree(tree)  # docstrings out, in place
    registrations = {}
    for statement in tree.body:
        call = statement.value if isinstance(statement, ast.Expr) else None
        if isinstance(call, ast.Call) and getattr(call.func, "id", None) == "register" and call.args:
            entry = call.args[0]
            if isinstance(entry, ast.Call) and entry.args and isinstance(entry.args[0], ast.Constant):
                registrations[entry.args[0].value] = statement
    functions = {s.name: s for s in tree.body if isinstance(s, (ast.FunctionDef, ast.AsyncFunctionDef))}
    named = {
        entry: sorted({n.id for n in ast.walk(statement) if isinstance(n, ast.Name) and n.id in functions})
        for entry, statement in registrations.items()
    }
    owned = {function for names in named.values() for function in names}
    shared = [s for s in tree.body if s not in registrations.values() and getattr(s, "name", None) not in owned]

    def dump(statements):
        return ast.dump(ast.Module(body=statements, type_ignores=[]), annotate_fields=False)

    return dump(shared), {entry: dump([functions[f] for f in named[entry]] + [registrations[entry]]) for entry in registrations}
