"""One cost-and-gradient evaluation on the 60,000 MNIST training images, against baselines.

Measures, in one run: this machine's matrix-product peak (a large ``A @ B`` in float64
and float32); then the median time of one evaluation of ``sparse_autoencoder_cost``
(784-200-784, 94.1 GFLOP of products) and ``stack_cost`` (784-200-200-10, 52.8 GFLOP)
in float64 and float32, by stackae, by straightforward NumPy (whole-batch expressions,
as most people write them) and by PyTorch autograd on the CPU (same thread count,
if torch is installed: ``pip install torch==2.13.0``). Peak memory is measured with
tracemalloc for the NumPy implementations, as a ratio to the arrays that must exist
(data, activations, parameters and gradient). Where Numba is installed (stackae's
default kernels are then the compiled ones), stackae is timed with its NumPy kernels as
well (``STACKAE_KERNELS=numpy``), in the same run.

``--breakdown`` also times stackae's matrix products inside its evaluations (on every
thread) and prints their share of the evaluation and their own rate: what the products
leave to the element-wise passes. Its last column times the same products (same shapes,
same FLOPs) as whole-data calls on all threads with nothing between them, as a framework
would make them: what the 4000x4000 peak is worth for these shapes without blocking.

    python benchmarks/bench_objectives.py [--mnist DIR] [--repeats 5] [--samples 60000]
                                          [--sweep-blocks ROWS ...] [--breakdown]
"""

from __future__ import annotations

import argparse
import time
import tracemalloc

import numpy as np

from _common import (
    DEFAULT_MNIST,
    autograd_objectives,
    flops_autoencoder,
    machine_description,
    matmul_peak,
    median_seconds,
    print_table,
    timed_products,
)
from _common import flops_stack as flops_stack_sizes
from stackae import (
    _rows,
    get_kernels,
    get_num_threads,
    init_theta,
    n_params,
    set_kernels,
    sparse_autoencoder_cost,
    stack_cost,
    unpack,
)
from stackae._rows import _tuning
from stackae.datasets import load_mnist

AE_SIZES = (784, 200, 784)
STACK_SIZES = (784, 200, 200, 10)
PARAMS = dict(alpha=3e-3, sparsity_target=0.1, sparsity_weight=3.0)


def flops_ae(m):
    return flops_autoencoder(m, *AE_SIZES[:2])  # XW1, HW2, H^T D3, D3 W2^T, X^T D2


def flops_stack(m):
    return flops_stack_sizes(m, STACK_SIZES)  # forward, gradients, deltas (none for X)


# ------------------------------------------------------------ straightforward NumPy
def _sig(z):
    return 1.0 / (1.0 + np.exp(-z))


def naive_ae(theta, X, h, alpha, sparsity_target, sparsity_weight):
    m, n = X.shape
    (W1, W2), (b1, b2) = unpack(theta.astype(X.dtype), (n, h, n))
    H = _sig(X @ W1 + b1)
    Xhat = _sig(H @ W2 + b2)
    rho_hat = H.mean(axis=0)
    rho = sparsity_target
    cost = (
        0.5 * np.sum((Xhat - X) ** 2) / m
        + 0.5 * alpha * (np.sum(W1**2) + np.sum(W2**2))
        + sparsity_weight * np.sum(rho * np.log(rho / rho_hat) + (1 - rho) * np.log((1 - rho) / (1 - rho_hat)))
    )
    D3 = (Xhat - X) * Xhat * (1 - Xhat) / m
    D2 = (D3 @ W2.T + sparsity_weight / m * (-rho / rho_hat + (1 - rho) / (1 - rho_hat))) * H * (1 - H)
    grad = np.concatenate([(X.T @ D2 + alpha * W1).ravel(), (H.T @ D3 + alpha * W2).ravel(), D2.sum(0), D3.sum(0)])
    return float(cost), grad


def naive_stack(theta, X, y, hidden, k, alpha):
    m = X.shape[0]
    weights, biases = unpack(theta.astype(X.dtype), (X.shape[1], *hidden, k))
    A = [X]
    for W, b in zip(weights[:-1], biases[:-1]):
        A.append(_sig(A[-1] @ W + b))
    S = A[-1] @ weights[-1] + biases[-1]
    S = S - S.max(axis=1, keepdims=True)
    P = np.exp(S)
    P /= P.sum(axis=1, keepdims=True)
    Y = np.eye(k, dtype=X.dtype)[y]
    cost = -np.sum(Y * np.log(P)) / m + 0.5 * alpha * np.sum(weights[-1] ** 2)
    D = (P - Y) / m
    gW = [None] * len(weights)
    gb = [None] * len(weights)
    gW[-1], gb[-1] = A[-1].T @ D + alpha * weights[-1], D.sum(0)
    for layer in range(len(hidden) - 1, -1, -1):
        D = (D @ weights[layer + 1].T) * A[layer + 1] * (1 - A[layer + 1])
        gW[layer], gb[layer] = A[layer].T @ D, D.sum(0)
    return float(cost), np.concatenate([g.ravel() for g in gW] + [g.ravel() for g in gb])


# ----------------------------------------------------------------- PyTorch autograd
def torch_functions(X, y, dtype):
    """The autograd baselines on CPU tensors, taking and returning NumPy vectors."""
    import torch

    torch.set_num_threads(get_num_threads())
    tdtype = torch.float32 if dtype == np.float32 else torch.float64
    ae, stack = autograd_objectives(torch.from_numpy(X), torch.from_numpy(y.astype(np.int64)))

    def on_numpy(fun):
        def call(theta):
            cost, grad = fun(torch.tensor(theta, dtype=tdtype))
            return float(cost), grad.numpy()

        return call

    return on_numpy(ae), on_numpy(stack)


# ---------------------------------------------------------------------- measuring
def kernel_kinds() -> list[str]:
    """The kernels to time: the default, then the NumPy ones when the default differs."""
    default = get_kernels()
    return [default] if default == "numpy" else [default, "numpy"]


def with_kernels(kind: str, fun):
    """``fun`` run with stackae's ``kind`` kernels (the default restored after)."""

    def run():
        before = get_kernels()
        set_kernels(kind)
        try:
            return fun()
        finally:
            set_kernels(before)

    return run


def peak_bytes(fun):
    tracemalloc.start()
    tracemalloc.reset_peak()
    fun()
    _, peak = tracemalloc.get_traced_memory()
    tracemalloc.stop()
    return peak


def measure(dtype, args) -> list[list[str]]:
    """Table rows for one dtype: every implementation of both objectives, and the peak."""
    rows = []
    peak = matmul_peak(dtype)
    data = load_mnist(args.mnist, dtype=dtype)
    X, y = data.X_train[: args.samples], data.y_train[: args.samples]
    m = X.shape[0]
    theta_ae = init_theta(AE_SIZES, 0)
    theta_st = init_theta(STACK_SIZES, 0)
    itemsize = np.dtype(dtype).itemsize
    needed = {
        "ae": X.nbytes + m * 200 * itemsize + 2 * n_params(AE_SIZES) * itemsize,
        "stack": X.nbytes + m * (200 + 200 + 10) * itemsize + 2 * n_params(STACK_SIZES) * itemsize,
    }
    (_, _, stackae_ae), (_, _, stackae_stack) = stackae_evaluations(X, y)
    impls = {"ae": {"stackae": stackae_ae}, "stack": {"stackae": stackae_stack}}
    for kind in kernel_kinds()[1:]:
        impls["ae"][f"stackae, {kind} kernels"] = with_kernels(kind, stackae_ae)
        impls["stack"][f"stackae, {kind} kernels"] = with_kernels(kind, stackae_stack)
    impls["ae"]["plain NumPy"] = lambda: naive_ae(theta_ae, X, 200, **PARAMS)
    impls["stack"]["plain NumPy"] = lambda: naive_stack(theta_st, X, y, (200, 200), 10, 1e-4)
    if not args.no_torch:
        try:
            torch_ae, torch_stack = torch_functions(X, y, dtype)
            impls["ae"]["PyTorch autograd"] = lambda: torch_ae(theta_ae)
            impls["stack"]["PyTorch autograd"] = lambda: torch_stack(theta_st)
        except ImportError:
            print("torch is not installed: PyTorch rows skipped (pip install torch==2.13.0)")
    gflop = {"ae": flops_ae(m) / 1e9, "stack": flops_stack(m) / 1e9}
    for objective, label in (("ae", "sparse AE 784-200-784"), ("stack", "stack 784-200-200-10")):
        seconds = {name: median_seconds(fun, args.repeats) for name, fun in impls[objective].items()}
        for name, fun in impls[objective].items():
            rate = gflop[objective] / seconds[name]
            ratios = " / ".join(
                f"{seconds[name] / seconds[other]:.2f}" for other in impls[objective] if not other.startswith("stackae")
            )
            memory = "-"
            if name != "PyTorch autograd":
                held = X.nbytes  # the data exists before the call and is not traced
                memory = f"{(held + peak_bytes(fun)) / needed[objective]:.2f}x"
            rows.append(
                [
                    f"{label}, {np.dtype(dtype).name}",
                    name,
                    f"{seconds[name]:.3f}",
                    f"{rate:.1f}",
                    f"{100 * rate / peak:.0f}%",
                    ratios if name == "stackae" else "",
                    memory,
                ]
            )
    rows.append(
        [f"matrix-product peak, {np.dtype(dtype).name}", "A @ B (4000x4000)", "", f"{peak:.1f}", "100%", "", ""]
    )
    return rows


def stackae_evaluations(X, y):
    """``(label, FLOPs, evaluate)`` of stackae's sparse AE and stack on ``X``, ``y``."""
    theta_ae, theta_st = init_theta(AE_SIZES, 0), init_theta(STACK_SIZES, 0)
    return (
        ("sparse AE 784-200-784", flops_ae(X.shape[0]), lambda: sparse_autoencoder_cost(theta_ae, X, 200, **PARAMS)),
        (
            "stack 784-200-200-10",
            flops_stack(X.shape[0]),
            lambda: stack_cost(theta_st, X, y, (200, 200), 10, alpha=1e-4),
        ),
    )


def sweep(args, chosen) -> None:
    """stackae's seconds per evaluation for several block sizes, against the peak."""
    rows = []
    for dtype in (np.float64, np.float32):
        peak = matmul_peak(dtype)
        data = load_mnist(args.mnist, dtype=dtype)
        X, y = data.X_train[: args.samples], data.y_train[: args.samples]
        sizes = sorted(set(args.sweep_blocks) | {chosen[np.dtype(dtype).name]})
        for block in sizes:
            _tuning.set_block_rows(block)
            try:
                timed = [(flops, median_seconds(fun, args.repeats)) for _, flops, fun in stackae_evaluations(X, y)]
            finally:
                _tuning.set_block_rows(None)
            mark = " (chosen)" if block == chosen[np.dtype(dtype).name] else ""
            cells = [f"{seconds:.3f} ({100 * flops / seconds / 1e9 / peak:.0f}%)" for flops, seconds in timed]
            rows.append([np.dtype(dtype).name, f"{block}{mark}", *cells])
    print_table(["dtype", "rows per block", "sparse AE s (of peak)", "stack s (of peak)"], rows)
    print()


def whole_data_products(sizes, X):
    """The matrix products of one evaluation of a network of ``sizes`` on ``X``, as
    whole-data calls (BLAS on all threads): forward ``A_{l-1} W_l``, gradients
    ``A_{l-1}^T D_l``, deltas ``D_l W_l^T`` for ``l >= 2``; the FLOPs of ``flops_ae`` and
    ``flops_stack``. Returns ``run()``, which makes them all once."""
    rng = np.random.default_rng(0)
    m, dtype = X.shape[0], X.dtype
    acts = [X] + [rng.random((m, n)).astype(dtype) for n in sizes[1:-1]]
    deltas = [rng.random((m, n)).astype(dtype) for n in sizes[1:]]
    weights = [rng.random((n_in, n_out)).astype(dtype) for n_in, n_out in zip(sizes[:-1], sizes[1:])]

    def run():
        for i, W in enumerate(weights):
            acts[i] @ W
            acts[i].T @ deltas[i]
            if i:
                deltas[i] @ W.T

    return run


def breakdown(args) -> None:
    """Where one stackae evaluation goes: its matrix products (per thread) and the rest."""
    rows = []
    threads = get_num_threads()
    for dtype in (np.float64, np.float32):
        peak = matmul_peak(dtype)
        data = load_mnist(args.mnist, dtype=dtype)
        X, y = data.X_train[: args.samples], data.y_train[: args.samples]
        cases = stackae_evaluations(X, y)
        for (label, flops, evaluate), sizes in zip(cases, (AE_SIZES, STACK_SIZES)):
            whole = median_seconds(whole_data_products(sizes, X), args.repeats)
            for kind in kernel_kinds():
                fun = with_kernels(kind, evaluate)
                fun()  # warm-up
                walls, inside = [], []
                for _ in range(args.repeats):
                    totals = [0.0]
                    with timed_products(totals):
                        start = time.perf_counter()
                        fun()
                        walls.append(time.perf_counter() - start)
                    inside.append(totals[0] / threads)
                wall, products = float(np.median(walls)), float(np.median(inside))
                rows.append(
                    [
                        f"{label}, {np.dtype(dtype).name}, {kind} kernels",
                        f"{wall:.3f}",
                        f"{100 * flops / wall / 1e9 / peak:.0f}%",
                        f"{products:.3f} ({100 * products / wall:.0f}%)",
                        f"{100 * flops / products / 1e9 / peak:.0f}%",
                        f"{wall - products:.3f} ({100 * (wall - products) / wall:.0f}%)",
                        f"{100 * flops / whole / 1e9 / peak:.0f}%",
                    ]
                )
    print_table(
        [
            "stackae evaluation",
            "seconds",
            "of peak",
            "in its products, per thread (share)",
            "products alone, of peak",
            "the rest (share)",
            "the same products as whole-data calls, of peak",
        ],
        rows,
    )
    print()


def denoising(args) -> None:
    """A denoising autoencoder's evaluation with the noise drawn in every block
    (stackae's way: keyed by seed and row, no corrupted copy of the data) against the
    same evaluation on a copy corrupted once beforehand (release 0.2's L-BFGS way, which
    holds a second copy of the data): what drawing the noise costs an evaluation."""
    from dataclasses import replace

    from stackae.noise import corrupt
    from stackae.objectives import autoencoder_cost_grad, autoencoder_spec

    rows_out = []
    for dtype in (np.float64, np.float32):
        X = load_mnist(args.mnist, dtype=dtype).X_train[: args.samples]
        for kind, level, tied in (("masking", 0.3, False), ("gaussian", 0.2, True)):
            spec = autoencoder_spec(
                784, 200, tied=tied, activation="sigmoid", output_activation="sigmoid", loss="squared",
                sparsity_target=0.1, sparsity_weight=3.0, contraction=0.0,
            )  # fmt: skip
            theta = _rows.NumpyRows(X).asarray(init_theta((784, 200, 784), 0, tied=tied))
            noisy = replace(spec, noise=kind, noise_level=level, noise_seed=1)
            in_blocks = _rows.rows_of(X, widths=(200,))
            copy = _rows.rows_of(corrupt(X, kind, level, 1), None, X, widths=(200,))
            t_blocks = median_seconds(lambda: autoencoder_cost_grad(in_blocks, theta, noisy, 3e-3), args.repeats)  # noqa: B023
            t_copy = median_seconds(lambda: autoencoder_cost_grad(copy, theta, spec, 3e-3), args.repeats)  # noqa: B023
            name = f"{'tied ' if tied else ''}sparse AE 784-200-784, {kind} {level}"
            mib = X.nbytes / 2**20
            rows_out.append(
                [
                    name,
                    np.dtype(dtype).name,
                    f"{t_blocks:.3f}",
                    f"{t_copy:.3f}",
                    f"{t_blocks / t_copy:.2f}",
                    f"{mib:.0f}",
                ]
            )
    print(f"denoising evaluations ({args.samples} MNIST rows; the noise drawn per block vs a corrupted copy)")
    print_table(
        ["evaluation", "dtype", "noise in the blocks s", "corrupted copy s", "ratio", "copy not held, MiB"], rows_out
    )
    print()


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--mnist", default=DEFAULT_MNIST)
    parser.add_argument("--repeats", type=int, default=5)
    parser.add_argument("--samples", type=int, default=60000)
    parser.add_argument("--no-torch", action="store_true")
    parser.add_argument(
        "--sweep-blocks",
        type=int,
        nargs="*",
        metavar="ROWS",
        help="also time stackae with these rows per block (the machine-derived choice is marked)",
    )
    parser.add_argument(
        "--breakdown", action="store_true", help="also split stackae's evaluations into matrix products and the rest"
    )
    parser.add_argument(
        "--denoising", action="store_true", help="only: denoising evaluations, noise in the blocks vs a corrupted copy"
    )
    args = parser.parse_args(argv)
    print(f"machine: {machine_description()}; threads: {get_num_threads()}")
    sizes = {np.dtype(d).name: np.dtype(d).itemsize for d in (np.float64, np.float32)}
    chosen = {k: _tuning.block_rows(784, (200,), size, n_samples=args.samples) for k, size in sizes.items()}
    rule = {
        k: _tuning._rows_for(_tuning.rule_budget(_tuning.cache_geometry()), 784, (200,), s) for k, s in sizes.items()
    }
    old = {k: _tuning._rows_for(_tuning.cache_share_bytes(), 784, (200,), s) for k, s in sizes.items()}
    print(
        "rows per block: "
        + ", ".join(f"{k} {v}" for k, v in chosen.items())
        + f" (measured on this machine where {args.samples} rows call for it, else from the L2); the L2 rule alone: "
        + ", ".join(f"{k} {v}" for k, v in rule.items())
        + f"; the 0.2 rule (half of {_tuning.cache_share_bytes() / 2**20:.0f} MiB of last-level cache per core): "
        + ", ".join(f"{k} {v}" for k, v in old.items())
    )
    if args.sweep_blocks:
        sweep(args, chosen)
    if args.breakdown:
        breakdown(args)
    if args.denoising:
        denoising(args)
        return
    rows = []
    for dtype in (np.float64, np.float32):
        rows += measure(dtype, args)
    print_table(
        [
            "evaluation (60k MNIST)" if args.samples >= 60000 else f"evaluation ({args.samples} samples)",
            "implementation",
            "seconds",
            "GFLOP/s",
            "of peak",
            "stackae / baselines",
            "peak memory / needed",
        ],
        rows,
    )


if __name__ == "__main__":
    main()
