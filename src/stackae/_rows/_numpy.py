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
derived from the machine's cache (:mod:`stackae._rows._tuning`), never from one machine's
numbers.

Memory maps (``np.load(..., mmap_mode="r")``) are read block by block, and the pages
a pass touched are handed back to the kernel afterwards (``madvise(MADV_DONTNEED)``),
so the resident memory stays near one block per thread however large the file.
Zarr arrays are read block by block too (one ``array[lo:hi]`` each).
"""

from __future__ import annotations

import mmap
import threading
from concurrent.futures import ThreadPoolExecutor

import array_api_compat.numpy as xnp
import numpy as np

from . import _tuning
from ._block import Block
from ._numpy_kernels import NumpyKernels
from ._registry import compiled_kernels, get_kernels, get_num_threads, new_kernels, set_kernels, set_num_threads

__all__ = [
    "NumpyKernels",  # from ._numpy_kernels, with the registry's functions: one import for the engines' users
    "compiled_kernels",
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
_executor: ThreadPoolExecutor | None = None
_executor_size = 0
_blas_controller = None


# ------------------------------------------------------------------ threads, BLAS
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


_local = threading.local()


def _thread_kernels() -> NumpyKernels:
    k = getattr(_local, "kernels", None)
    if k is None or k.kind != get_kernels():
        k = _local.kernels = new_kernels()
    return k


# ---------------------------------------------------------------------- engine
def _read(a, lo: int, hi: int):
    """Rows ``lo:hi`` of a NumPy array (a view), of a Zarr array (read now) or of a
    SciPy sparse matrix (made dense now)."""
    if a is None:
        return None
    if isinstance(a, np.ndarray):
        return a[lo:hi]
    if hasattr(a, "toarray"):  # a SciPy sparse matrix: this block's rows made dense
        return np.ascontiguousarray(a[lo:hi].toarray())
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
        ``None``: :func:`stackae._rows._tuning.block_rows` for these shapes, and
        :func:`get_num_threads`.
    widths : sequence of int
        The widths of the arrays a block computes (hidden layers), to size the blocks.
    offset : int
        The index of ``X``'s first row among all the rows (a Dask chunk's start), so
        that a block's ``start`` is absolute.
    w : ndarray of shape (m,) or None
        Row weights in the compute dtype (``None``: all 1).
    """

    kind = "numpy"

    def __init__(self, X, y=None, T=None, *, block_rows=None, n_threads=None, widths=(), offset=0, w=None):
        self.X, self.y, self.T, self.w = X, y, T, w
        self.weight_total = X.shape[0] if w is None else float(np.sum(w, dtype=np.float64))
        self.offset = int(offset)  # the index of X's first row in the whole data
        self.n_samples, self.n_features = X.shape
        self.dtype = X.dtype.type
        self.xp = xnp
        self.device = "cpu"
        self.n_threads = get_num_threads() if n_threads is None else n_threads
        if block_rows is None:
            block_rows = _tuning.block_rows(self.n_features, widths, np.dtype(self.dtype).itemsize, self.n_samples)
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
        BLAS runs on all the threads (see :func:`stackae._rows._tuning.block_rows`):
        a minibatch split unevenly between threads waits for its larger part.
        """
        m, b = self.n_samples, self.block_rows
        if m < b * self.n_threads:
            return [(0, m)]
        return [(lo, min(lo + b, m)) for lo in range(0, max(m, 1), b)]

    def _run_span(self, fn, args, spans, keep, kept, copy=True):
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
                None if self.w is None else self.w[lo:hi],
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
        caller packs it.
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
