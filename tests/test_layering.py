"""The layering rules of the developer guide (docs/developer.md, "The rules"), checked
on the source, every import counted (inside functions too): the math imports no
estimator, file or CLI; the optimizers import no model; readers know no model; no
import circle anywhere; imports inside functions only where a module needs an optional
dependency."""

from __future__ import annotations

import ast
from pathlib import Path

import pytest

SRC = Path(__file__).resolve().parents[1] / "src" / "stackae"


def _imports(module: Path) -> set[str]:
    """The stackae modules ``module`` imports (absolute dotted names), at any depth."""
    package = ["stackae", *module.relative_to(SRC).with_suffix("").parts[:-1]]
    if module.name == "__init__.py":
        package = ["stackae", *module.relative_to(SRC).parts[:-1]]
    found = set()
    for node in ast.walk(ast.parse(module.read_text())):
        if isinstance(node, ast.ImportFrom):
            base = package[: len(package) - node.level + 1] if node.level else []
            name = ".".join([*base, node.module] if node.module else base)
            found.add(name)
            found.update(f"{name}.{alias.name}" for alias in node.names)
        elif isinstance(node, ast.Import):
            found.update(alias.name for alias in node.names)
    return {n for n in found if n.startswith("stackae")}


def _files(*names):
    for name in names:
        path = SRC / name
        yield from (sorted(path.rglob("*.py")) if path.is_dir() else [path])


FORBIDDEN = {
    # the math
    ("objectives.py", "heads.py", "activations.py", "_params.py", "_rows", "_lbfgs.py"): (
        "stackae.estimators",
        "stackae.io",
        "stackae.cli",
        "stackae._checkpoint",
        "stackae.datasets",
    ),
    # the optimizers know no model
    ("optim.py", "_lbfgs.py"): ("stackae.objectives", "stackae.estimators", "stackae._params"),
    # readers know no model
    ("datasets.py", "_safenpz.py"): ("stackae.estimators", "stackae.objectives", "stackae.io"),
    # checkpoints and files sit below the estimators and model files
    ("_checkpoint.py", "_files.py"): ("stackae.io", "stackae.estimators", "stackae.cli"),
    # the estimators build their own torch modules; export reads the registry of them
    ("estimators",): ("stackae.io", "stackae.cli", "stackae.export"),
    # the engines know no objective: the block-size tuner times the probe it is given
    ("_rows", "_random.py"): (
        "stackae.objectives",
        "stackae.ladder",
        "stackae.heads",
        "stackae.optim",
        "stackae.estimators",
        "stackae.io",
        "stackae.cli",
    ),
    # the noise draws from the row-keyed generator below the engines, not from them
    ("noise.py",): ("stackae._rows",),
    # the recipes are data the estimators read
    ("presets.py",): ("stackae.estimators",),
    # the compiled kernels build on the NumPy kernels; the registry chooses between them
    ("_rows/_compiled.py", "_rows/_numpy_kernels.py"): ("stackae._rows._numpy", "stackae._rows._registry"),
    ("_rows/_registry.py",): ("stackae._rows._numpy",),
}


@pytest.mark.parametrize(("modules", "forbidden"), list(FORBIDDEN.items()), ids=lambda v: str(v)[:40])
def test_layers_import_only_downwards(modules, forbidden):
    for path in _files(*modules):
        bad = sorted(i for i in _imports(path) if any(i == f or i.startswith(f + ".") for f in forbidden))
        assert not bad, f"{path.relative_to(SRC)} imports {bad}"


def _module_name(path: Path) -> str:
    parts = path.relative_to(SRC.parent).with_suffix("").parts
    return ".".join(parts[:-1] if parts[-1] == "__init__" else parts)


MODULES = {_module_name(path): path for path in sorted(SRC.rglob("*.py"))}


def _targets(name: str, path: Path, node) -> set[str]:
    """The stackae modules the import ``node`` of module ``name`` (file ``path``) loads:
    ``from .x import y`` loads the module ``x.y`` where that is a module, else ``x``."""
    if isinstance(node, ast.Import):
        found = set()
        for alias in node.names:
            imported = alias.name
            while imported not in MODULES and "." in imported:
                imported = imported.rsplit(".", 1)[0]
            found.add(imported)
        return found & set(MODULES)
    package = name.split(".") if path.name == "__init__.py" else name.split(".")[:-1]
    base = package[: len(package) - node.level + 1] if node.level else []
    target = ".".join([*base, node.module] if node.module else base)
    found = {f"{target}.{alias.name}" if f"{target}.{alias.name}" in MODULES else target for alias in node.names}
    return found & set(MODULES)


def _edges(name: str, path: Path) -> set[str]:
    """The stackae modules ``name`` imports, anywhere in it. A package's ``__init__`` runs
    before its modules, but that is Python's order, not an import the module makes, so
    it is not an edge."""
    found = set()
    for node in ast.walk(ast.parse(path.read_text())):
        if isinstance(node, ast.Import | ast.ImportFrom):
            found |= _targets(name, path, node)
    return found - {name}


def _circles(graph: dict[str, set[str]]) -> list[list[str]]:
    """The strongly connected components of more than one module (Tarjan)."""
    index, low, stack, on_stack, found = {}, {}, [], set(), []

    def visit(v):
        index[v] = low[v] = len(index)
        stack.append(v)
        on_stack.add(v)
        for w in sorted(graph[v]):
            if w not in index:
                visit(w)
                low[v] = min(low[v], low[w])
            elif w in on_stack:
                low[v] = min(low[v], index[w])
        if low[v] == index[v]:
            component = []
            while True:
                w = stack.pop()
                on_stack.discard(w)
                component.append(w)
                if w == v:
                    break
            if len(component) > 1:
                found.append(sorted(component))

    for v in sorted(graph):
        if v not in index:
            visit(v)
    return found


def test_no_import_circles():
    graph = {name: _edges(name, path) for name, path in MODULES.items()}
    assert _circles(graph) == []


def test_the_circle_finder_finds_a_circle():
    graph = {"a": {"b"}, "b": {"c"}, "c": {"a"}, "d": {"a"}}
    assert _circles(graph) == [["a", "b", "c"]]


#: The imports of stackae modules that stay inside a function, each with its reason: the
#: imported module needs an optional dependency (which ``import stackae`` must not).
LAZY = {
    ("stackae._rows._registry", "stackae._rows._compiled"): "Numba",
}


def test_imports_inside_functions_are_for_optional_dependencies():
    lazy = set()
    for name, path in MODULES.items():
        for function in ast.walk(ast.parse(path.read_text())):
            if isinstance(function, ast.FunctionDef | ast.AsyncFunctionDef):
                for node in ast.walk(function):
                    if isinstance(node, ast.Import | ast.ImportFrom):
                        lazy |= {(name, target) for target in _targets(name, path, node)}
    assert lazy <= set(LAZY), sorted(lazy - set(LAZY))
