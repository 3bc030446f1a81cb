"""Row-blocked, thread-parallel map-reduce over samples.

This module is the one place where stackae does NumPy-specific speed work; the
objectives in :mod:`stackae.objectives` only say what one block of rows contributes.

Why: every objective is a sum over samples, so it can be computed block by block of
rows and the blocks' costs and gradients added up (the same structure lets shards on
other machines be added up). Working on blocks of a few thousand rows keeps the
element-wise passes (sigmoid, differences, derivatives) in cache instead of streaming
60000 x 784 arrays through memory several times, and giving each core its own run of
blocks parallelises those element-wise passes, which NumPy runs on one core only.
While blocks run on worker threads, BLAS is pinned to one thread per caller so the
cores are not oversubscribed.

The split of rows between threads is fixed by ``n_samples``, ``block_rows`` and the
thread count, and partial results are added in thread order, so results are
bit-for-bit reproducible for a given thread count.
"""

from __future__ import annotations

import os
import threading
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor

import numpy as np

__all__ = ["Workspace", "map_reduce_rows", "get_num_threads", "set_num_threads"]

#: Rows per block. 1024 rows of 784 float32/float64 values are 3-6 MB: small enough
#: to stay in the last-level cache while several passes run over them, large enough
#: for the matrix products to run near BLAS peak (see benchmarks/bench_objectives.py).
BLOCK_ROWS = 1024

_lock = threading.Lock()
_num_threads: int | None = None
_executor: ThreadPoolExecutor | None = None
_executor_size = 0
_blas_controller = None


def _default_num_threads() -> int:
    env = os.environ.get("STACKAE_NUM_THREADS")
    if env:
        try:
            n = int(env)
        except ValueError:
            raise ValueError(f"STACKAE_NUM_THREADS must be a positive integer, got {env!r}.") from None
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
    if n is not None and (not isinstance(n, int | np.integer) or n < 1):
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


def _blas_single_thread():
    global _blas_controller
    if _blas_controller is None:
        from threadpoolctl import ThreadpoolController

        _blas_controller = ThreadpoolController()
    return _blas_controller.limit(limits=1, user_api="blas")


class Workspace:
    """Scratch arrays reused across the blocks one thread processes."""

    def __init__(self) -> None:
        self._buffers: dict[str, np.ndarray] = {}

    def get(self, name: str, shape: tuple[int, ...], dtype) -> np.ndarray:
        """An uninitialised C-contiguous array of ``shape`` (reused when it fits)."""
        size = int(np.prod(shape))
        buf = self._buffers.get(name)
        if buf is None or buf.size < size or buf.dtype != dtype:
            buf = np.empty(size, dtype=dtype)
            self._buffers[name] = buf
        return buf[:size].reshape(shape)


BlockFn = Callable[[slice, np.ndarray, Workspace], float]


def _run_span(block_fn: BlockFn, start: int, stop: int, size: int, dtype, block_rows: int):
    acc = np.zeros(size, dtype=dtype)
    ws = Workspace()
    cost = 0.0
    for lo in range(start, stop, block_rows):
        cost += block_fn(slice(lo, min(lo + block_rows, stop)), acc, ws)
    return cost, acc


def map_reduce_rows(
    block_fn: BlockFn,
    n_samples: int,
    size: int,
    dtype,
    *,
    block_rows: int | None = None,
    n_threads: int | None = None,
) -> tuple[float, np.ndarray]:
    """Sum ``block_fn`` over blocks of rows ``0..n_samples``.

    Parameters
    ----------
    block_fn : callable ``(rows, acc, workspace) -> float``
        Adds its block's contribution to the flat accumulator ``acc`` (zeros of
        ``size`` and ``dtype`` at the start of each thread's run) and returns its cost
        contribution as a Python float.
    n_samples, size : int
    dtype : float32 or float64
    block_rows : int or None
        ``None``: :data:`BLOCK_ROWS`.
    n_threads : int or None
        ``None``: :func:`get_num_threads`.

    Returns
    -------
    cost : float
        Sum of the blocks' costs (accumulated in float64).
    acc : ndarray of shape (size,)
        Sum of the blocks' accumulators.
    """
    block_rows = BLOCK_ROWS if block_rows is None else block_rows
    n_threads = get_num_threads() if n_threads is None else n_threads
    n_blocks = max(1, -(-n_samples // block_rows))
    n_threads = max(1, min(n_threads, n_blocks))
    if n_threads == 1:
        # One block run: leave BLAS its own threads for the matrix products.
        return _run_span(block_fn, 0, n_samples, size, dtype, block_rows)
    # Contiguous spans of whole blocks, as equal as possible.
    edges = [min(n_samples, (n_blocks * t // n_threads) * block_rows) for t in range(n_threads)]
    edges.append(n_samples)
    pool = _pool(n_threads)
    with _blas_single_thread():
        futures = [
            pool.submit(_run_span, block_fn, edges[t], edges[t + 1], size, dtype, block_rows) for t in range(n_threads)
        ]
        results = [f.result() for f in futures]
    cost = sum(c for c, _ in results)
    acc = results[0][1]
    for _, a in results[1:]:
        acc += a
    return cost, acc
