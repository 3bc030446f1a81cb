"""The layering rules of the developer guide (docs/developer.md, "The rules"), checked
on the source: the math imports no estimator, file or CLI; the optimizers import no
model; readers know no model; no import circle between estimators, model files and
checkpoints."""

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
    ("estimators",): ("stackae.io", "stackae.cli"),
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
