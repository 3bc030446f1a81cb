"""The GPU benchmark script runs end to end (on CPU tensors here: CI has no GPU)."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import pytest

from conftest import MNIST_DIR

pytest.importorskip("torch", reason="PyTorch is not installed (pip install torch==2.13.0)")
BENCHMARKS = Path(__file__).resolve().parents[1] / "benchmarks"


@pytest.mark.skipif(not MNIST_DIR.is_dir(), reason="the MNIST files are not in ../shared/data/mnist")
def test_gpu_benchmark_runs_on_cpu_tensors():
    proc = subprocess.run(
        [
            sys.executable,
            "gpu.py",
            "--device",
            "cpu",
            "--samples",
            "800",
            "--max-iter",
            "3",
            "--fast-epochs",
            "1",
            "1",
            "1",
            "1",
            "--repeats",
            "1",
            "--mnist",
            str(MNIST_DIR),
        ],
        cwd=BENCHMARKS,
        capture_output=True,
        text=True,
        timeout=300,
    )
    assert proc.returncode == 0, proc.stderr
    out = proc.stdout
    assert out.startswith("device: CPU")
    for row in (
        "| sparse AE 784-200-784",
        "| stack 784-200-200-10",
        "| matrix-product peak (float32)",
        "| UFLDL protocol, L-BFGS 3 it a stage | float32",
        "| fast recipe, Adam 1+1+1+1 epochs",
    ):
        assert row in out, row
