"""Rows in a Dask array: the block function mapped over the chunks where they live, a
tree-sum back (the shape of Spark MLlib's ``treeAggregate`` and dask-glm's L-BFGS).

The chunks (rows, all columns) stay on the workers of the current
``distributed.Client``, or in this process with Dask's threaded scheduler when there is
none. One evaluation:

1. the parameters (and whatever else the block function takes) are sent to every
   worker once (``Client.scatter(..., broadcast=True)``), not once per chunk;
2. one task per chunk runs the block function on its rows with the NumPy engine
   (:class:`~._numpy.NumpyRows`: cache-sized blocks, on the worker's threads);
3. the chunks' ``(cost, parts)`` are added pairwise in a tree of tasks, so the client
   receives one cost and one gradient.

What a pass keeps for a later one (the sparse autoencoder's hidden activations) stays
on the workers as persisted task results. A worker that dies loses its chunks; Dask
recomputes them from their lineage (the graph that made them) on the others.
"""

from __future__ import annotations

import numpy as np

__all__ = ["DaskRows", "client_or_none"]


def client_or_none():
    """The current ``distributed.Client``, or None (Dask's threaded scheduler)."""
    try:
        from distributed import default_client
    except ImportError:  # pragma: no cover - dask without distributed
        return None
    try:
        return default_client()
    except ValueError:
        return None


def _worker_threads() -> int | None:
    """Threads of the Dask worker running this task, or None outside a worker."""
    try:
        from distributed import get_worker
    except ImportError:  # pragma: no cover
        return None
    try:
        return int(get_worker().state.nthreads)
    except ValueError:
        return None


def _run_chunk(fn, X, y, T, start, keep, kept, rows, noise, args):
    """One chunk's ``(cost, parts, kept items)`` by the NumPy engine, on a worker.

    ``kept``: what an earlier pass kept for this chunk's blocks; ``rows``: the chunk's
    rows to use (a minibatch's share), or None for all of them; ``noise``: ``(kind,
    level, seed)`` to corrupt the input first (denoising), the clean rows as targets.
    """
    from contextlib import nullcontext

    from ._numpy import NumpyRows, blas_single_thread

    if rows is not None:
        X = X[rows]
        y = None if y is None else y[rows]
        T = None if T is None else T[rows]
    if noise is not None:
        from ..noise import corrupt

        kind, level, seed = noise
        T, X = X, corrupt(X, kind, level, int(seed), start=int(start))
    threads = _worker_threads()
    widths = getattr(args[1], "widths", ()) if len(args) > 1 else ()  # args: (theta, spec, ...)
    engine = NumpyRows(X, y, T, n_threads=threads or 1, widths=widths, offset=int(start))
    # Dask's threaded scheduler already runs the chunks side by side: one BLAS thread each
    with blas_single_thread() if threads is None else nullcontext():
        return engine.map_sum(fn, args, keep=keep, kept=kept)


def _content_key(a: np.ndarray) -> tuple:
    """Identifies an array by its contents (the parameters are updated in place, so their
    identity does not tell one step's from the next)."""
    import hashlib

    return a.shape, a.dtype.str, hashlib.blake2b(np.ascontiguousarray(a).data, digest_size=16).digest()


def _add(a, b):
    """Two chunks' ``(cost, parts)`` added (the tree-sum's node)."""
    return a[0] + b[0], [p + q for p, q in zip(a[1], b[1])]


def _strip(result):
    return result[0], result[1]


def _kept_of(result):
    return result[2]


class DaskRows:
    """Rows of a Dask array chunked by rows; same interface as
    :class:`~._numpy.NumpyRows`, results on the client as NumPy arrays."""

    kind = "dask"

    def __init__(self, X, y=None, T=None, *, rows=None, noise=None):
        import array_api_compat.numpy as xnp
        import dask.array as da

        if len(X.chunks[1]) != 1:
            X = X.rechunk({1: -1})
        self.X = X
        self.chunks = X.to_delayed().ravel().tolist()
        self.chunk_starts = np.concatenate([[0], np.cumsum(X.chunks[0])[:-1]]).astype(int).tolist()
        self.offsets = self.chunk_starts  # each chunk's first row's index (keys noise and masks)
        if y is not None and not hasattr(y, "dask"):
            y = da.from_array(np.asarray(y), chunks=(X.chunks[0],)).persist()
        elif y is not None and y.chunks[0] != X.chunks[0]:
            y = y.rechunk((X.chunks[0],))
        if T is not None and T.chunks != X.chunks:
            T = T.rechunk(X.chunks)
        self.y, self.T = y, T
        self.y_chunks = None if y is None else y.to_delayed().ravel().tolist()
        self.T_chunks = None if T is None else T.to_delayed().ravel().tolist()
        self.local_rows = rows  # per chunk: the rows of a minibatch in it (or None: all)
        self.noise = noise
        self.n_samples = X.shape[0] if rows is None else int(sum(len(r) for r in rows if r is not None))
        self.n_features = X.shape[1]
        self.dtype = X.dtype.type
        self.xp = xnp
        self.device = "cpu"
        self._scattered: list = []  # (array, future) of the last arrays sent

    def subset(self, rows, noise=None):
        """The rows ``rows`` (sorted indices) as an engine over the same chunks: each
        chunk's task takes its share; nothing is gathered on the client."""
        local = []
        bounds = np.searchsorted(rows, [*self.chunk_starts, self.X.shape[0]])
        for c, start in enumerate(self.chunk_starts):
            part = rows[bounds[c] : bounds[c + 1]] - start
            local.append(part if part.size else None)
        engine = DaskRows.__new__(DaskRows)
        engine.__dict__.update(self.__dict__)
        engine.local_rows = local
        # a chunk's rows are a run of the (sorted) batch: their index in the batch keys
        # their noise and dropout masks, as when the batch is gathered in one process
        engine.offsets = bounds[:-1].astype(int).tolist()
        engine.noise = noise
        engine.n_samples = int(len(rows))
        engine._scattered = self._scattered
        return engine

    def asarray(self, a):
        return np.ascontiguousarray(a, dtype=self.dtype)

    def scalar(self, a) -> float:
        return float(a)

    def _broadcast(self, args):
        """``args`` where the tasks take them: scattered to every worker once (an array
        sent in one of the last calls, with the same contents, is not sent again), or as
        they are without a cluster."""
        from dask import delayed

        client = client_or_none()
        if client is None:
            return delayed(args, traverse=True)
        sent = []
        for a in args:
            if isinstance(a, np.ndarray):
                key = _content_key(a)
                future = next((f for k, f in self._scattered if k == key), None)
                if future is None:
                    future = client.scatter(a, broadcast=True, hash=False)
                    self._scattered.append((key, future))
                sent.append(future)
            else:
                sent.append(a)
        del self._scattered[:-4]
        return delayed(tuple, pure=True)(sent)

    def map_sum(self, fn, args=(), *, keep=False, kept=None):
        """As :meth:`NumpyRows.map_sum`: ``kept`` (from a ``keep=True`` pass) is a list of
        per-chunk results that stay on the workers."""
        import dask
        from dask import delayed

        shared = self._broadcast(args)
        tasks = []
        for c, chunk in enumerate(self.chunks):
            rows = None if self.local_rows is None else self.local_rows[c]
            if self.local_rows is not None and rows is None:
                continue  # no row of this minibatch in this chunk
            task = delayed(_run_chunk, pure=False)(
                fn,
                chunk,
                None if self.y_chunks is None else self.y_chunks[c],
                None if self.T_chunks is None else self.T_chunks[c],
                self.offsets[c],
                keep,
                None if kept is None else kept[c],
                rows,
                self.noise,
                shared,
            )
            tasks.append(task)
        keep_tasks = None
        if keep:  # the results stay on the workers for the next pass
            tasks = list(dask.persist(*tasks))
            keep_tasks = [delayed(_kept_of)(t) for t in tasks]
        level = [delayed(_strip)(t) for t in tasks]
        while len(level) > 1:
            nxt = [delayed(_add)(level[i], level[i + 1]) for i in range(0, len(level) - 1, 2)]
            if len(level) % 2:
                nxt.append(level[-1])
            level = nxt
        (cost, parts) = dask.compute(level[0])[0]
        return cost, parts, keep_tasks
