"""Helpers shared by the benchmark scripts: the machine description and table printing."""

from __future__ import annotations

import os
import platform
import threading
import time
from contextlib import contextmanager
from pathlib import Path

import numpy as np

#: Where the four MNIST files live in this workspace (override with --mnist: a folder, or a
#: data set's name such as "mnist", fetched once into the data home).
DEFAULT_MNIST = Path(__file__).resolve().parents[1].parent / "shared" / "data" / "mnist"


def cpu_model() -> str:
    try:
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("model name"):
                return line.split(":", 1)[1].strip()
    except OSError:
        pass
    return platform.processor() or "unknown CPU"


def machine_description() -> str:
    """One line: CPU, cores usable, memory, Python, NumPy and its BLAS."""
    try:
        cores = len(os.sched_getaffinity(0))
    except AttributeError:
        cores = os.cpu_count()
    try:
        mem = os.sysconf("SC_PAGE_SIZE") * os.sysconf("SC_PHYS_PAGES") / 2**30
        mem_text = f"{mem:.0f} GiB"
    except (ValueError, OSError, AttributeError):
        mem_text = "? GiB"
    blas = "?"
    try:
        from threadpoolctl import threadpool_info

        infos = [i for i in threadpool_info() if i.get("user_api") == "blas"]
        # NumPy's own first: its products are the ones timed (SciPy and PyTorch may load
        # other OpenBLAS builds, listed in the order they were loaded)
        infos.sort(key=lambda i: "numpy" not in str(i.get("filepath", "")))
        if infos:
            blas = f"{infos[0].get('internal_api')} {infos[0].get('version')} ({infos[0].get('architecture')})"
    except ImportError:
        pass
    from stackae import get_kernels

    kernels = get_kernels()
    if kernels == "numba":
        import numba

        kernels = f"Numba {numba.__version__}"
    return (
        f"{cpu_model()}, {cores} cores, {mem_text}, Python {platform.python_version()}, "
        f"NumPy {np.__version__}, BLAS {blas}, stackae kernels: {kernels}"
    )


def print_table(headers: list[str], rows: list[list[str]]) -> None:
    """A Markdown table (pastes straight into the README)."""
    widths = [max(len(str(x)) for x in col) for col in zip(headers, *rows)]
    line = lambda cells: "| " + " | ".join(str(c).ljust(w) for c, w in zip(cells, widths)) + " |"  # noqa: E731
    print(line(headers))
    print("|" + "|".join("-" * (w + 2) for w in widths) + "|")
    for row in rows:
        print(line(row))


# ------------------------------------------------------------ matrix-product floors
def flops_autoencoder(m: int, n: int, h: int) -> float:
    """Matrix-product FLOPs of one autoencoder evaluation on ``m`` rows: X W1, H W2,
    H^T delta_3, delta_3 W2^T, X^T delta_2 (each 2 m n h)."""
    return 5 * 2.0 * m * n * h


def flops_stack(m: int, sizes) -> float:
    """Matrix-product FLOPs of one evaluation of a stack ``(n_0, ..., n_L, k)``: every
    layer forward and its gradient, every delta but the input's."""
    pairs = list(zip(sizes[:-1], sizes[1:]))
    forward = sum(2.0 * m * a * b for a, b in pairs)
    gradients = forward
    deltas = sum(2.0 * m * a * b for a, b in pairs[1:])
    return forward + gradients + deltas


def _product_chain(shapes, dtype, rng):
    """``run()``: the products ``(left, right)`` of ``shapes`` (each ``(m, k, n)``, an
    ``op`` of ``"AB"``, ``"ABt"`` or ``"AtB"``), made one after the other into
    preallocated outputs, nothing between them."""
    calls = []
    for (m, k, n), op in shapes:
        if op == "AtB":  # A^T B with A (k, m) stored row-major, as A[rows].T @ delta
            A, B = rng.random((k, m), dtype=dtype), rng.random((k, n), dtype=dtype)
            calls.append((A.T, B, np.empty((m, n), dtype)))
        elif op == "ABt":  # delta W^T with W (n, k)
            A, B = rng.random((m, k), dtype=dtype), rng.random((n, k), dtype=dtype)
            calls.append((A, B.T, np.empty((m, n), dtype)))
        else:
            A, B = rng.random((m, k), dtype=dtype), rng.random((k, n), dtype=dtype)
            calls.append((A, B, np.empty((m, n), dtype)))

    def run():
        for A, B, out in calls:
            np.matmul(A, B, out=out)

    return run


def step_products(kind: str, sizes, rows: int) -> list:
    """The matrix products of one evaluation on ``rows`` rows, in stackae's layouts:
    ``kind`` ``"autoencoder"`` (sizes ``(n, h)``) or ``"stack"`` (``(n_0, ..., k)``)."""
    if kind == "autoencoder":
        n, h = sizes
        return [
            ((rows, n, h), "AB"),  # X W1
            ((rows, h, n), "AB"),  # H W2
            ((h, rows, n), "AtB"),  # H^T delta_3
            ((rows, n, h), "ABt"),  # delta_3 W2^T
            ((n, rows, h), "AtB"),  # X^T delta_2
        ]
    pairs = list(zip(sizes[:-1], sizes[1:]))
    chain = [((rows, a, b), "AB") for a, b in pairs]  # forward
    chain += [((a, rows, b), "AtB") for a, b in pairs]  # gradients
    chain += [((rows, b, a), "ABt") for a, b in pairs[1:]]  # deltas, not the input's
    return chain


def step_product_seconds(clf, n_samples: int, dtype=np.float32, repeats: int = 200, blas_threads=None) -> dict:
    """Seconds one step's matrix products of each stage of a minibatch fit take on their
    own: the stage's shapes at its batch size (``clf`` fitted, or a model of the same
    network fitted on a few rows), BLAS on all threads as stackae runs a minibatch or on
    ``blas_threads``, timed ``repeats`` times in a row (the median of three such runs).
    Times a stage's steps and against the floor, this is what the products themselves
    allow at these shapes; with ``blas_threads=1`` beside it, how much BLAS's own
    threading gives at them."""
    import time

    if blas_threads is not None:
        from threadpoolctl import threadpool_limits

        with threadpool_limits(blas_threads, user_api="blas"):
            return step_product_seconds(clf, n_samples, dtype, repeats)

    rng = np.random.default_rng(0)
    batch = min(clf.batch_size, n_samples)
    seconds = {}
    for stage in clf.stage_profile_:
        run = _product_chain(step_products(*stage_network(clf, stage), batch), dtype, rng)
        run()
        times = []
        for _ in range(3):  # the median of three, as a fit's products meet the machine's load
            start = time.perf_counter()
            for _ in range(repeats):
                run()
            times.append((time.perf_counter() - start) / repeats)
        seconds[stage] = float(np.median(times))
    return seconds


def matmul_peak(dtype, size: int = 4000, repeats: int = 3) -> float:
    """This machine's matrix-product rate in GFLOP/s: the best of ``repeats`` products of
    two ``size`` x ``size`` matrices (all threads)."""
    import time

    rng = np.random.default_rng(0)
    A = rng.random((size, size)).astype(dtype)
    B = rng.random((size, size)).astype(dtype)
    A @ B
    best = float("inf")
    for _ in range(repeats):
        start = time.perf_counter()
        A @ B
        best = min(best, time.perf_counter() - start)
    return 2 * size**3 / best / 1e9


def stage_network(clf, stage: str) -> tuple[str, tuple]:
    """What a stage of a fitted StackedAutoencoderClassifier trains: ``("autoencoder",
    (n, h))`` for ``"pretrain layer L"``, ``("stack", sizes)`` for the softmax (the last
    two sizes) and for fine-tuning (all of them)."""
    sizes = (clf.n_features_in_, *clf.hidden_layer_sizes, clf.classes_.size)
    if stage.startswith("pretrain layer"):
        layer = int(stage.rsplit(" ", 1)[1])
        return "autoencoder", (sizes[layer - 1], sizes[layer])
    if stage == "softmax":
        return "stack", sizes[-2:]
    return "stack", sizes


def stage_flops(clf, n_samples: int) -> dict:
    """Matrix-product FLOPs of each stage of a fitted StackedAutoencoderClassifier: its
    evaluations (full batch: each on all rows; minibatch: each epoch's batches add up to
    all rows once)."""
    minibatch = clf.solver != "lbfgs"
    flops = {}
    for stage, profile in clf.stage_profile_.items():
        passes = clf.n_iter_[stage] if minibatch else profile["evaluations"]
        kind, sizes = stage_network(clf, stage)
        per_pass = flops_autoencoder(n_samples, *sizes) if kind == "autoencoder" else flops_stack(n_samples, sizes)
        flops[stage] = passes * per_pass
    return flops


# --------------------------------------------------------------- shared baselines
def median_seconds(fun, repeats: int, synchronize=None) -> float:
    """Median wall time of ``fun()`` over ``repeats`` calls after one warm-up call;
    ``synchronize()`` (a GPU's) is called after each."""
    import time

    fun()
    if synchronize is not None:
        synchronize()
    times = []
    for _ in range(repeats):
        start = time.perf_counter()
        fun()
        if synchronize is not None:
            synchronize()
        times.append(time.perf_counter() - start)
    return float(np.median(times))


def autograd_objectives(X, y):
    """The straightforward PyTorch programs for the sparse autoencoder 784-200-784 (UFLDL's
    hyperparameters) and the stack 784-200-200-10: forward, then autograd. ``X``, ``y``
    are tensors; each function takes a flat parameter tensor and returns the cost (a
    0-d tensor) and the gradient, where they live."""
    import torch

    n, h = 784, 200
    sizes = (784, 200, 200, 10)

    def ae(theta):
        t = theta.detach().clone().requires_grad_(True)
        W1, W2 = t[: n * h].view(n, h), t[n * h : 2 * n * h].view(h, n)
        b1, b2 = t[2 * n * h : 2 * n * h + h], t[2 * n * h + h :]
        H = torch.sigmoid(X @ W1 + b1)
        Xhat = torch.sigmoid(H @ W2 + b2)
        rho, rho_hat = 0.1, H.mean(0)
        cost = (
            0.5 * ((Xhat - X) ** 2).sum() / X.shape[0]
            + 1.5e-3 * ((W1**2).sum() + (W2**2).sum())
            + 3.0 * (rho * torch.log(rho / rho_hat) + (1 - rho) * torch.log((1 - rho) / (1 - rho_hat))).sum()
        )
        cost.backward()
        return cost.detach(), t.grad

    def stack(theta):
        t = theta.detach().clone().requires_grad_(True)
        offset, weights, biases = 0, [], []
        for a, b in zip(sizes[:-1], sizes[1:]):
            weights.append(t[offset : offset + a * b].view(a, b))
            offset += a * b
        for b in sizes[1:]:
            biases.append(t[offset : offset + b])
            offset += b
        A = X
        for W, b in zip(weights[:-1], biases[:-1]):
            A = torch.sigmoid(A @ W + b)
        S = A @ weights[-1] + biases[-1]
        cost = torch.nn.functional.cross_entropy(S, y) + 0.5e-4 * (weights[-1] ** 2).sum()
        cost.backward()
        return cost.detach(), t.grad

    return ae, stack


@contextmanager
def timed_products(totals: list):
    """Adds the seconds spent in stackae's NumPy matrix products, on every thread, to
    ``totals[0]`` while it lasts (the benchmark wraps the engine's one product kernel)."""
    from stackae import _rows

    kernels = _rows._numpy.NumpyKernels
    product = kernels.matmul
    lock = threading.Lock()

    def matmul(self, A, B, key=None):
        start = time.perf_counter()
        out = product(self, A, B, key)
        spent = time.perf_counter() - start
        with lock:
            totals[0] += spent
        return out

    kernels.matmul = matmul
    try:
        yield
    finally:
        kernels.matmul = product
