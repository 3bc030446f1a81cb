"""Benchmark scripts run end to end on small inputs: the objectives' breakdown, the GPU
benchmark on CPU tensors (CI has no GPU), minibatch steps against PyTorch, and a step part
by part."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import pytest

import stackae
from conftest import MNIST_DIR

BENCHMARKS = Path(__file__).resolve().parents[1] / "benchmarks"


def _run(*args):
    proc = subprocess.run(
        [sys.executable, *args], cwd=BENCHMARKS, capture_output=True, text=True, timeout=300, check=False
    )
    assert proc.returncode == 0, proc.stderr
    return proc.stdout


def _cells(out: str, row: str) -> list[str]:
    line = next(line for line in out.splitlines() if line.startswith(row))
    return [cell.strip() for cell in line.strip("|").split("|")]


@pytest.mark.skipif(not MNIST_DIR.is_dir(), reason="the MNIST files are not in ../shared/data/mnist")
def test_gpu_benchmark_runs_on_cpu_tensors():
    pytest.importorskip("torch", reason="PyTorch is not installed (pip install torch==2.13.0)")
    out = _run(
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
    )
    assert out.startswith("device: CPU")
    for row in (
        "| sparse AE 784-200-784",
        "| stack 784-200-200-10",
        "| matrix-product peak (float32)",
        "| UFLDL protocol, L-BFGS 3 it a stage | float32",
        "| fast recipe, Adam 1+1+1+1 epochs",
    ):
        assert row in out, row


@pytest.mark.skipif(not MNIST_DIR.is_dir(), reason="the MNIST files are not in ../shared/data/mnist")
def test_objectives_benchmark_splits_evaluations_into_products_and_the_rest():
    out = _run(
        "bench_objectives.py", "--samples", "2000", "--repeats", "1", "--no-torch", "--breakdown",
        "--mnist", str(MNIST_DIR),
    )  # fmt: skip
    rows = ["| sparse AE 784-200-784, float64", "| stack 784-200-200-10, float32"]
    kinds = ["numba", "numpy"] if stackae.get_kernels() == "numba" else ["numpy"]
    for row in [f"{r}, {kind} kernels" for r in rows for kind in kinds]:  # each set of kernels has its rows
        seconds, _, products, _, rest, whole = _cells(out, row)[1:]
        inside = float(products.split()[0])
        # the products' time and the rest add up to the evaluation's, and both are there
        assert 0 < inside < float(seconds)
        assert abs(float(rest.split()[0]) - (float(seconds) - inside)) < 2e-3
        assert whole.endswith("%") and float(whole[:-1]) > 0
    assert "| matrix-product peak, float32" in out
    if "numba" in kinds:  # the main table times the NumPy kernels beside the default
        assert _cells(out, "| sparse AE 784-200-784, float32 | stackae, numpy kernels")[2]


@pytest.mark.skipif(not MNIST_DIR.is_dir(), reason="the MNIST files are not in ../shared/data/mnist")
def test_minibatch_steps_benchmark_times_three_programs_against_pytorch():
    pytest.importorskip("torch", reason="PyTorch is not installed (pip install torch==2.13.0)")
    out = _run(
        "minibatch_steps.py",
        *("--samples", "640", "--hidden", "8", "8", "--features", "16", "--repeats", "1", "--mnist", str(MNIST_DIR)),
        *("--adversarial", "0.1"),
    )
    header = _cells(out, "| 16-8-8-10, 5 steps of 128 (1 epoch(s) of 640)")
    assert header[1:] == ["ms a step", "/ PyTorch"]
    assert _cells(out, "| PyTorch (autograd, torch.optim.SGD)")[2] == "1.00"
    for row in (
        "| stackae on torch tensors (cpu)",
        "| stackae on NumPy arrays",
        "| stackae on NumPy arrays, adversarial 0.1",
    ):
        ms, ratio = (float(x) for x in _cells(out, row)[1:])
        assert ms > 0 and ratio > 0


def test_replayed_step_products_are_the_floors_products():
    """ufldl_mnist.py's "products alone" replays one step's products; they must be the
    ones its floor counts (same FLOPs), and the replay must run them."""
    sys.path.insert(0, str(BENCHMARKS))
    try:
        from _common import _product_chain, flops_autoencoder, flops_stack, step_products
    finally:
        sys.path.remove(str(BENCHMARKS))
    import numpy as np

    def flops(chain):
        return sum(2.0 * m * k * n for (m, k, n), _ in chain)

    assert flops(step_products("autoencoder", (784, 200), 256)) == flops_autoencoder(256, 784, 200)
    assert flops(step_products("stack", (784, 200, 200, 10), 256)) == flops_stack(256, (784, 200, 200, 10))
    assert flops(step_products("stack", (200, 10), 96)) == flops_stack(96, (200, 10))
    _product_chain(step_products("stack", (7, 5, 3), 4), np.float32, np.random.default_rng(0))()


@pytest.mark.skipif(not MNIST_DIR.is_dir(), reason="needs the MNIST files in ../shared/data/mnist")
def test_one_class_mnist_benchmark_runs():
    out = _run("outliers_mnist.py", "--digits", "0", "--quick", "--mnist", str(MNIST_DIR))
    cells = _cells(out, "| mean")
    assert float(cells[1].split()[0]) > 0.9  # stackae's AUC on the normal digit 0
    assert "| time / stackae's | 1.00" in out


def test_regression_and_codes_benchmark_runs_on_the_digits():
    out = _run("regression_and_codes.py", "--data", "digits", "--skip-regression")
    fine_tuned = float(_cells(out, "| StackedAutoencoder 64-32-8, fine-tuned")[1])
    pca = float(_cells(out, "| PCA, 8 components")[1])
    assert fine_tuned < pca


@pytest.mark.skipif(not MNIST_DIR.is_dir(), reason="the MNIST files are not in ../shared/data/mnist")
def test_step_parts_benchmark_adds_up_a_fine_tuning_step():
    out = _run("step_parts.py", "--steps", "3", "--repeats", "1", "--mnist", str(MNIST_DIR))
    evaluation = float(_cells(out, "| the evaluation")[1])
    alone = float(_cells(out, "|   its matrix products alone, BLAS on all threads")[1])
    rest = float(_cells(out, "|   the rest of the evaluation")[1])
    assert evaluation > 0 and alone > 0
    assert abs(alone + rest - evaluation) < 2e-3  # the rest is the evaluation less its products
    assert float(_cells(out, "| a whole step as a fit runs it")[1]) > 0
    assert _cells(out, "|   against its products alone")[2].endswith("x")
    assert float(_cells(out, "|   its products as they run in it")[1]) > 0
    if stackae.get_kernels() == "numba":  # the kernels' table: compiled against NumPy, each a ratio
        softmax = _cells(out, "| the softmax head: cost, delta, column sums")
        assert softmax[1] == "256 x 10" and float(softmax[2]) > 0 and softmax[4].endswith("x")
    assert "machine: " in out
