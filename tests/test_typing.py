"""The package's types check: mypy over src/stackae (its settings in pyproject.toml), and
the py.typed marker that tells type checkers the package has them."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]


def test_the_package_ships_py_typed():
    assert (ROOT / "src" / "stackae" / "py.typed").is_file()
    assert 'stackae = ["py.typed"]' in (ROOT / "pyproject.toml").read_text()


def test_mypy_finds_no_error():
    pytest.importorskip("mypy", reason="mypy is not installed (pip install -e '.[dev]')")
    proc = subprocess.run(
        [sys.executable, "-m", "mypy", "--no-error-summary"], cwd=ROOT, capture_output=True, text=True, timeout=600
    )
    errors = [line for line in proc.stdout.splitlines() if ": error:" in line]
    assert proc.returncode == 0 and not errors, proc.stdout[-4000:]
