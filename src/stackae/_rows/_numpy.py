"""Rows in NumPy arrays (in memory, memory-mapped or read from Zarr): blocks on threads.

This module is where stackae does its NumPy-specific speed work, with its compiled
companion :mod:`._compiled` (Numba kernels that fuse a layer's element-wise passes and
the optimizers' updates; :func:`get_kernels` says which set runs).

Why: every objective is a sum over samples, so it can be computed block by block of
rows and the blocks' costs and gradients added up. Working on blocks of a few hundred
rows keeps the element-wise passes (activations, differences, derivatives) in cache
instead of streaming 60000 x 784 arrays through memory several times, and giving
each core its own run of blocks parallelises those element-wise passes, which NumPy
runs on one core only. While blocks run on worker threads, BLAS is pinned to one
thread per caller so the cores are not oversubscribed. The kernels below reuse one
set of scratch buffers per thread and work in place.

The split of rows between threads is fixed by ``n_samples``, the block size and the
thread count, and partial results are added in thread order, so results are
bit-for-bit reproducible for a given thread count and block size. The block size is
derived from the machine's cache (:mod:`stackae._tuning`), never from one machine's
numbers.

Memory maps (``np.load(..., mmap_mode="r")``) are read block by block, and the pages
a pass touched are handed back to the kernel afterwards (``madvise(MADV_DONTNEED)``),
so the resident memory stays near one block per thread however large the file.
Zarr arrays are read block by block too (one ``array[lo:hi]`` each).
"""

from __future__ import annotations

import importlib
import mmap
import os
import threading
import warnings
from concurrent.futures import ThreadPoolExecutor

import array_api_compat.numpy as xnp
import numpy as np

from .. import _tuning
from ..activations import ACTIVATIONS
from ._kernels import Kernels, philox_keep_mask

__all__ = [
    "NumpyKernels",
    "NumpyRows",
    "get_num_threads",
    "set_num_threads",
    "get_kernels",
    "set_kernels",
    "new_kernels",
    "release_pages",
    "blas_single_thread",
]

_lock = threading.Lock()
_num_threads: int | None = None
_executor: ThreadPoolExecutor | None = None
_executor_size = 0
_blas_controller = None
_kernels_kind: str | None = None
KERNELS = ("numba", "numpy")


# ------------------------------------------------------------------ threads, BLAS
def _default_num_threads() -> int:
    env = os.environ.get("STACKAE_NUM_THREADS")
    if env:
        try:
            n = int(env)
        except ValueError:
            n = 0
        if n >= 1:
            return n
        raise ValueError(f"STACKAE_NUM_THREADS must be a positive integer, got {env!r}.")
    try:
        return len(os.sched_getaffinity(0))
    except AttributeError:  # pragma: no cover - not Linux
        return os.cpu_count() or 1


def get_num_threads() -> int:
    """Threads the objectives use: ``set_num_threads``, else ``STACKAE_NUM_THREADS``,
    else the cores this process may run on."""
    global _num_threads
    if _num_threads is None:
        _num_threads = _default_num_threads()
    return _num_threads


def set_num_threads(n: int | None) -> None:
    """Set the number of threads the objectives use (``None``: back to the default)."""
    global _num_threads
    if n is not None and (isinstance(n, bool) or not isinstance(n, int | np.integer) or n < 1):
        raise ValueError(f"'n_threads' must be a positive integer or None, got {n!r}.")
    _num_threads = None if n is None else int(n)


def _pool(n: int) -> ThreadPoolExecutor:
    global _executor, _executor_size
    with _lock:
        if _executor is None or _executor_size < n:
            if _executor is not None:
                _executor.shutdown(wait=True)
            _executor = ThreadPoolExecutor(max_workers=n, thread_name_prefix="stackae")
            _executor_size = n
        return _executor


def blas_single_thread():
    """A context in which BLAS uses one thread per caller (threadpoolctl)."""
    global _blas_controller
    if _blas_controller is None:
        from threadpoolctl import ThreadpoolController

        _blas_controller = ThreadpoolController()
    return _blas_controller.limit(limits=1, user_api="blas")


# --------------------------------------------------------------------- kernels
def _numba_available() -> bool:
    try:
        import numba  # noqa: F401
    except ImportError:
        return False
    return True


def _check_kernels(kind, source: str, choices: str) -> str:
    if kind not in KERNELS:
        raise ValueError(f"{source} must be {choices}, got {kind!r}.")
    if kind == "numba" and not _numba_available():
        raise ImportError(f"{source} is 'numba' but Numba is not installed: pip install 'stackae[fast]'.")
    return kind


def _compiled_loads() -> bool:
    """Whether :mod:`._compiled` loads. Numba may be installed and still fail here (a
    NumPy it does not support, no writable folder for its cache): the default then falls
    back to the NumPy kernels with a warning, rather than failing every evaluation."""
    try:
        importlib.import_module(f"{__package__}._compiled")
    except Exception as exc:  # any failure means: not these kernels
        warnings.warn(
            f"stackae's compiled kernels could not be loaded ({type(exc).__name__}: {exc}); using its NumPy "
            "kernels (STACKAE_KERNELS=numpy chooses them without this warning).",
            RuntimeWarning,
            stacklevel=4,
        )
        return False
    return True


def get_kernels() -> str:
    """The element-wise kernels the objectives use on NumPy rows: ``"numba"`` (compiled,
    fused: :mod:`stackae._rows._compiled`) or ``"numpy"``. ``set_kernels``, else
    ``STACKAE_KERNELS``, else ``"numba"`` where Numba is installed (``stackae[fast]``)."""
    global _kernels_kind
    if _kernels_kind is None:
        env = os.environ.get("STACKAE_KERNELS")
        if env:
            _kernels_kind = _check_kernels(env, "STACKAE_KERNELS", "'numba' or 'numpy'")
        else:
            _kernels_kind = "numba" if _numba_available() and _compiled_loads() else "numpy"
    return _kernels_kind


def compiled_kernels():
    """:mod:`stackae._rows._compiled` when the chosen kernels are the compiled ones, else
    None: for the whole-vector steps outside the block functions (optimizer updates,
    max-norm), which try it first and fall back to NumPy."""
    if get_kernels() != "numba":
        return None
    from . import _compiled

    return _compiled


def set_kernels(kind: str | None) -> None:
    """Choose the element-wise kernels (``"numba"`` or ``"numpy"``; ``None``: back to the
    default, see :func:`get_kernels`). Results of the two agree to rounding, not to the bit."""
    global _kernels_kind
    _kernels_kind = None if kind is None else _check_kernels(kind, "'kernels'", "'numba', 'numpy' or None")


def new_kernels() -> NumpyKernels:
    """A fresh set of kernels of the chosen kind (each keeps its own scratch buffers)."""
    if get_kernels() == "numba":
        from ._compiled import CompiledKernels

        return CompiledKernels()
    return NumpyKernels()


# ----------------------------------------------------------------------- pages
def _mapping_of(a):
    while a is not None:
        m = getattr(a, "_mmap", None)
        if isinstance(m, mmap.mmap):
            return m
        a = getattr(a, "base", None)
    return None


def release_pages(*arrays) -> None:
    """Hand back the pages of memory-mapped arrays that this process has touched: they
    stay in the page cache (a later read is cheap) but leave the resident set."""
    for a in arrays:
        m = _mapping_of(a) if isinstance(a, np.ndarray) else None
        if m is not None and hasattr(m, "madvise") and hasattr(mmap, "MADV_DONTNEED"):
            try:
                m.madvise(mmap.MADV_DONTNEED)
            except (OSError, ValueError):  # pragma: no cover - platform refuses
                pass


def is_memory_mapped(a) -> bool:
    return isinstance(a, np.ndarray) and _mapping_of(a) is not None


# --------------------------------------------------------------------- kernels
def _sigmoid_inplace(Z):
    # 1 / (1 + exp(-z)) in three in-place passes: NumPy's vectorised exp is 2-3x faster
    # than scipy's expit loop; exp(-z) overflows to inf for z < -88 (float32), which
    # gives exactly 0, as it should.
    with np.errstate(over="ignore"):
        np.negative(Z, out=Z)
        np.exp(Z, out=Z)
    Z += 1.0
    np.reciprocal(Z, out=Z)
    return Z


class NumpyKernels(Kernels):
    """In-place NumPy kernels with one set of scratch buffers per thread."""

    kind = "numpy"

    def __init__(self):
        super().__init__(xnp, "cpu")
        self._buffers: dict[str, np.ndarray] = {}

    def buffer(self, key: str, shape: tuple[int, ...], dtype) -> np.ndarray:
        """An uninitialised C-contiguous array of ``shape``, reused when it fits."""
        size = 1
        for s in shape:
            size *= s
        buf = self._buffers.get(key)
        if buf is None or buf.size < size or buf.dtype != dtype:
            buf = np.empty(size, dtype=dtype)
            self._buffers[key] = buf
        return buf[:size].reshape(shape)

    def matmul(self, A, B, key=None):
        if key is None:
            return A @ B
        return np.matmul(A, B, out=self.buffer(key, (A.shape[0], B.shape[1]), A.dtype))

    def crossprod_sum(self, pairs, key=None):
        # one product over the pairs' rows stacked, not one product per pair and a sum:
        # a product's rate grows with its inner dimension up to a few hundred rows (a
        # minibatch's two 128-row products run at about 70% of peak, one of 256 near
        # it), and there is no pass over the (n, h) result to add; the stacking copies
        # only rows, a (2h)-th of the product's work
        if len(pairs) == 1:
            A, B = pairs[0]
            return self.matmul(A.T, B, key)
        rows = sum(A.shape[0] for A, _ in pairs)
        A0, B0 = pairs[0]
        key = key or "crossprod"
        left = self.buffer(f"{key}-left", (rows, A0.shape[1]), A0.dtype)
        right = self.buffer(f"{key}-right", (rows, B0.shape[1]), B0.dtype)
        lo = 0
        for A, B in pairs:
            left[lo : lo + A.shape[0]] = A
            right[lo : lo + A.shape[0]] = B
            lo += A.shape[0]
        return self.matmul(left.T, right, key)

    def activate(self, name, Z):
        if name == "sigmoid":
            return _sigmoid_inplace(Z)
        if name == "tanh":
            return np.tanh(Z, out=Z)
        if name == "relu":
            return np.maximum(Z, 0.0, out=Z)
        if name == "linear":
            return Z
        return ACTIVATIONS[name].f(Z)

    def derivative(self, name, A, key=None):
        out = self.buffer(key or f"fprime-{name}", A.shape, A.dtype)
        if name == "sigmoid":  # A (1 - A)
            np.subtract(1.0, A, out=out)
            out *= A
        elif name == "tanh":  # 1 - A^2
            np.multiply(A, A, out=out)
            np.subtract(1.0, out, out=out)
        elif name == "relu":  # [A > 0]; A >= 0, so its sign is exactly that
            np.sign(A, out=out)
        else:
            out[...] = ACTIVATIONS[name].derivative(A)
        return out

    def sum_rows(self, A):
        return A.sum(axis=0)

    def dot(self, A, B):
        return float(np.vdot(A, B))  # BLAS dot, no temporary

    def total(self, a):
        return float(np.sum(a, dtype=np.float64))

    def one_hot(self, y, n_classes, dtype):
        Y = self.buffer("onehot", (y.shape[0], n_classes), dtype)
        Y[...] = 0
        Y[np.arange(y.shape[0]), y] = 1
        return Y

    def keep_mask(self, seed, stream, start, shape, p_drop, dtype):
        return philox_keep_mask(seed, stream, start, shape, p_drop, dtype)

    def float(self, value):
        return float(value)


_local = threading.local()


def _thread_kernels() -> NumpyKernels:
    k = getattr(_local, "kernels", None)
    if k is None or k.kind != get_kernels():
        k = _local.kernels = new_kernels()
    return k


# ---------------------------------------------------------------------- engine
def _read(a, lo: int, hi: int):
    """Rows ``lo:hi`` of a NumPy array (a view) or of a Zarr array (read now)."""
    if a is None:
        return None
    if isinstance(a, np.ndarray):
        return a[lo:hi]
    return np.asarray(a[lo:hi])


class NumpyRows:
    """Rows held in NumPy arrays (or read from Zarr), summed block by block on threads.

    Parameters
    ----------
    X : ndarray or zarr array of shape (m, n)
        In the compute dtype (float32 or float64), C-contiguous (or a Zarr array).
    y : ndarray of shape (m,) or None
    T : like X, or None
        Reconstruction targets, when they differ from ``X``.
    block_rows, n_threads : int or None
        ``None``: :func:`stackae._tuning.block_rows` for these shapes, and
        :func:`get_num_threads`.
    widths : sequence of int
        The widths of the arrays a block computes (hidden layers), to size the blocks.
    offset : int
        The index of ``X``'s first row among all the rows (a Dask chunk's start), so
        that a block's ``start`` is absolute.
    """

    kind = "numpy"

    def __init__(self, X, y=None, T=None, *, block_rows=None, n_threads=None, widths=(), offset=0):
        self.X, self.y, self.T = X, y, T
        self.offset = int(offset)  # the index of X's first row in the whole data
        self.n_samples, self.n_features = X.shape
        self.dtype = X.dtype.type
        self.xp = xnp
        self.device = "cpu"
        self.n_threads = get_num_threads() if n_threads is None else n_threads
        if block_rows is None:
            block_rows = _tuning.block_rows(self.n_features, widths, np.dtype(self.dtype).itemsize)
            chunks = getattr(X, "chunks", None)
            if chunks is not None and not isinstance(X, np.ndarray):  # Zarr: whole chunks
                block_rows = max(block_rows, int(chunks[0]))
        self.block_rows = int(block_rows)

    def asarray(self, a):
        return np.ascontiguousarray(a, dtype=self.dtype)

    def scalar(self, a) -> float:
        """A small reduction's value, as a float on the host (float64 arithmetic from here)."""
        return float(a)

    def blocks(self):
        """``(lo, hi)`` of every block, in order.

        Fewer rows than a block per thread (a minibatch) are one block, whose products
        BLAS runs on all the threads (see :func:`stackae._tuning.block_rows`). Until
        2026-11-28 only rows up to one block were: a batch of 1,024 float32 MNIST rows
        was a block of 832 on one thread and one of 192 on the other, and the fast
        recipe at that batch size took 23.8 s against 17.4 s as one block (18.7 s as two
        of 512; ``benchmarks/ufldl_mnist.py --recipe fast --batch-size 1024``).
        """
        m, b = self.n_samples, self.block_rows
        if m < b * self.n_threads:
            return [(0, m)]
        return [(lo, min(lo + b, m)) for lo in range(0, max(m, 1), b)]

    def _run_span(self, fn, args, spans, keep, kept, copy=True):
        from . import Block

        k = _thread_kernels()
        cost = 0.0
        acc = None
        kept_out = []
        for index, (lo, hi) in spans:
            block = Block(
                _read(self.X, lo, hi),
                None if self.y is None else self.y[lo:hi],
                _read(self.T, lo, hi),
                self.offset + lo,
                None if kept is None else kept[index],
            )
            c, parts, keep_item = fn(k, block, *args)
            cost += c
            if acc is None:
                # the first block's parts may be this thread's scratch buffers, which the
                # next block overwrites: copied, unless it is the only block and the
                # caller takes them as they are (copy=False)
                acc = list(parts) if not copy and len(spans) == 1 else [np.array(p, copy=True) for p in parts]
            else:
                for a, p in zip(acc, parts):
                    a += p
            if keep:
                kept_out.append(keep_item)
        return cost, acc, kept_out

    def map_sum(self, fn, args=(), *, keep=False, kept=None, copy=True):
        """Sum ``fn(kernels, block, *args) -> (cost, parts, keep_item)`` over all blocks.

        Returns ``(cost, parts, kept)``: the sum of the costs (a float), the element-wise
        sums of the ``parts`` lists, and (with ``keep=True``) every block's
        ``keep_item`` in block order, for a later pass's ``kept=``.

        ``copy=False``: the parts may be the kernels' scratch buffers, valid until this
        thread's next ``map_sum``, and must not be changed in place. A minibatch is one
        block, whose gradient would otherwise be copied once here and again where the
        caller packs it (0.3-0.6 of 15 ms an evaluation of 784-1024-1024-10 with dropout
        on 128 rows, float32).
        """
        blocks = list(enumerate(self.blocks()))
        n_threads = max(1, min(self.n_threads, len(blocks)))
        try:
            if n_threads == 1:
                cost, acc, kept_out = self._run_span(fn, args, blocks, keep, kept, copy)
            else:
                edges = [len(blocks) * t // n_threads for t in range(n_threads + 1)]
                pool = _pool(n_threads)
                with blas_single_thread():
                    futures = [
                        pool.submit(self._run_span, fn, args, blocks[edges[t] : edges[t + 1]], keep, kept)
                        for t in range(n_threads)
                    ]
                    results = [f.result() for f in futures]
                cost = sum(r[0] for r in results)
                acc = results[0][1]
                for r in results[1:]:
                    for a, p in zip(acc, r[1]):
                        a += p
                kept_out = [item for r in results for item in r[2]]
        finally:
            release_pages(self.X, self.T)
        return cost, acc, (kept_out if keep else None)
