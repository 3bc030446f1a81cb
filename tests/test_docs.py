"""The documentation matches the code: every public name is in the API reference, the
README's commands parse, its Python snippet runs, every link of the README and the docs'
pages points at a file that exists. (The README's main job, ``stackae train``, runs in
tests/test_cli.py.)"""

from __future__ import annotations

import dataclasses
import importlib
import re
import shlex
from pathlib import Path

import numpy as np
import pytest

from stackae.cli import build_parser

ROOT = Path(__file__).resolve().parents[1]
README = (ROOT / "README.md").read_text()
API = (ROOT / "docs" / "api.rst").read_text()
BLOCKS = (ROOT / "docs" / "api_blocks.rst").read_text()

#: the modules whose ``__all__`` is public API
PUBLIC_MODULES = (
    "stackae", "stackae.objectives", "stackae.heads", "stackae.ladder", "stackae.activations", "stackae.noise",
    "stackae.gradcheck", "stackae.optim", "stackae.datasets", "stackae.io", "stackae.export", "stackae.log",
    "stackae.presets", "stackae.cluster", "stackae.viz", "stackae.exceptions",
)  # fmt: skip


def _documented() -> set[tuple[str, str]]:
    """``(module, name)`` of every entry of the API reference's autosummary tables (the
    public API's page and the building blocks')."""
    found, module, in_table = set(), None, False
    for line in (API + "\n" + BLOCKS).splitlines():
        if m := re.match(r"\.\. currentmodule:: (\S+)", line):
            module = m.group(1)
        elif line.startswith(".. autosummary::"):
            in_table = True
        elif in_table and re.match(r"   [A-Za-z_][\w.]*$", line):
            *sub, name = line.strip().split(".")
            found.add((".".join([module, *sub]), name))
        elif in_table and line and not line.startswith("   "):
            in_table = False
    return found


def _code_blocks(text: str, language: str) -> list[str]:
    return re.findall(rf"```{language}\n(.*?)```", text, flags=re.S)


def test_every_public_name_is_in_the_api_reference():
    documented = _documented()
    objects = {id(getattr(importlib.import_module(m), n)) for m, n in documented}
    missing = []
    for module_name in PUBLIC_MODULES:
        module = importlib.import_module(module_name)
        for name in module.__all__:
            value = getattr(module, name)
            if name == "__version__":
                assert "__version__" in API
                continue
            # a constant is covered by its own name in its module; a function or class
            # wherever it is documented (stackae.stack_cost is stackae.objectives.stack_cost)
            same_object = not isinstance(value, str | int | float | tuple | dict | frozenset) and id(value) in objects
            if (module_name, name) not in documented and not same_object:
                missing.append(f"{module_name}.{name}")
    assert not missing, f"public names missing from docs/api.rst: {missing}"


def test_the_readme_fits_on_two_screens_and_starts_with_the_set_up():
    lines = README.splitlines()
    assert len(lines) <= 150
    setup = _code_blocks(README, "sh")[0].splitlines()
    assert [line.split("#")[0].strip() for line in setup] == ["pip install -e '.[dev]'", "stackae train", "pytest"]
    ci = (ROOT / ".ci" / "run").read_text()
    assert "pip install -e '.[dev]'\npytest\n" in ci  # CI runs the README's install and test commands


def _readme_commands() -> list[list[str]]:
    commands = []
    for block in _code_blocks(README, "sh"):
        for line in block.splitlines():
            line = line.split("#")[0].strip()
            for part in line.split("&&"):
                words = shlex.split(part)
                if words and words[0] == "stackae":
                    commands.append(words[1:])
    return commands


@pytest.mark.parametrize("argv", _readme_commands(), ids=lambda argv: " ".join(argv)[:60])
def test_every_stackae_command_of_the_readme_parses(argv):
    parser = build_parser()
    args = parser.parse_args(argv)  # an unknown option exits with status 2
    assert callable(args.func)


def _mnist_subset(n_train, n_test):
    from stackae.datasets import load_mnist

    folder = ROOT.parent / "shared" / "data" / "mnist"
    if not folder.is_dir():
        pytest.skip("needs ../shared/data/mnist")
    full = load_mnist(str(folder), dtype="float32")
    return dataclasses.replace(
        full, X_train=full.X_train[:n_train], y_train=full.y_train[:n_train], X_test=full.X_test[:n_test],
        y_test=full.y_test[:n_test],
    )  # fmt: skip


def _run_python_snippet(monkeypatch, data):
    pytest.importorskip("torch")
    import stackae.datasets

    monkeypatch.setattr(stackae.datasets, "load_mnist", lambda *a, **k: data)
    (snippet,) = _code_blocks(README, "python")
    namespace = {}
    exec(compile(snippet, "README.md", "exec"), namespace)
    return namespace


def test_the_readme_s_python_snippet_runs(monkeypatch, capsys):
    """On 3000 MNIST images (the snippet as written fits all 60,000: ``-m slow``)."""
    namespace = _run_python_snippet(monkeypatch, _mnist_subset(3000, 1000))
    score = float(capsys.readouterr().out.split()[-1])
    assert score >= 0.85
    import torch

    clf, data = namespace["clf"], namespace["data"]
    X = data.X_test[:50]
    with torch.no_grad():
        proba = namespace["module"](torch.from_numpy(X)).numpy()
    np.testing.assert_allclose(proba, clf.predict_proba(X), atol=1e-6)
    assert namespace["codes"].shape == (1000, 200)


@pytest.mark.slow
def test_the_readme_s_python_snippet_reaches_its_accuracy_on_all_of_mnist(monkeypatch, capsys):
    _run_python_snippet(monkeypatch, _mnist_subset(60000, 10000))
    assert float(capsys.readouterr().out.split()[-1]) >= 0.978  # the README says 0.983


def _links(path: Path) -> list[str]:
    text = path.read_text()
    return [t for t in re.findall(r"\]\(([^)\s]+)\)", text) if not re.match(r"[a-z]+:", t) and not t.startswith("#")]


@pytest.mark.parametrize(
    "page",
    [ROOT / "README.md", *sorted((ROOT / "docs").rglob("*.md"))],
    ids=lambda p: str(p.relative_to(ROOT)),
)
def test_every_link_points_at_a_file_that_exists(page):
    broken = []
    for target in _links(page):
        target = target.split("#")[0]
        base = ROOT / "docs" if target.startswith("/") else page.parent
        resolved = base / target.lstrip("/")
        generated = "auto_examples" in target  # made by the gallery when the docs are built
        if not generated and not resolved.exists():
            broken.append(target)
    assert not broken, f"{page.name}: links to missing files {broken}"


def test_the_public_api_comes_first_and_the_math_renders_offline():
    """The API reference's page lists what users call; the building blocks have their own
    page; MathJax is shipped with the pages rather than fetched from a CDN."""
    estimators = [line.strip() for line in API.split("Estimators\n")[1].split("\n\n.. currentmodule")[0].splitlines()]
    assert "StackedAutoencoderClassifier" in estimators and "stack_cost" not in API and "ladder_cost_grad" in BLOCKS
    conf = (ROOT / "docs" / "conf.py").read_text()
    (path,) = re.findall(r'^mathjax_path = "([^"]+)"', conf, flags=re.M)
    assert "://" not in path and (ROOT / "docs" / "_static" / path).stat().st_size > 1_000_000
