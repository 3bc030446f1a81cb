"""Rows in a Dask array: the block function mapped over the chunks where they live, a
tree-sum back (the shape of Spark MLlib's ``treeAggregate`` and dask-glm's L-BFGS).

The chunks (rows, all columns) stay on the workers of the current
``distributed.Client``, or in this process with Dask's threaded scheduler when there is
none. One evaluation:

1. the parameters (and whatever else the block function takes) are sent once, as the
   data of one task (``Client.submit``), not once per chunk: the first chunk task on a
   worker fetches them from a peer. Unlike scattered data they have a lineage, so a
   worker that dies with them is no loss: the scheduler runs that task again elsewhere.
   (Broadcasting them, ``Client.scatter(..., broadcast=True)``, ended a fit with
   ``CommClosedError`` when a worker died during the broadcast, and a retried broadcast
   hung in the scheduler's replication to the dead worker);
2. one task per chunk, bound (loosely) to the workers holding the chunk, runs the
   block function on its rows with the NumPy engine
   (:class:`~._numpy.NumpyRows`: cache-sized blocks, on the worker's threads);
3. the chunks' ``(cost, parts)`` are summed where they are, one task per worker, and
   those sums in one more task: one gradient crosses from each worker but one, and one
   reaches the client. (Without a cluster, Dask's threaded scheduler adds them in a
   tree of tasks.)

What a pass keeps for a later one (the sparse autoencoder's hidden activations) stays
on the workers as persisted task results. A worker that dies loses its chunks; Dask
recomputes them from their lineage (the graph that made them) on the others.
"""

from __future__ import annotations

import warnings

import numpy as np

from ._numpy import NumpyRows, blas_single_thread

__all__ = ["DaskRows", "client_or_none", "STATS"]

#: What this process has sent to clusters: ``sent_bytes`` counts every array sent
#: with the tasks, twice (to the scheduler, and from it to a worker; the workers' copies
#: to each other are theirs to count).
#: Read by benchmarks/cluster.py.
STATS = {"sent_bytes": 0}


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


_HEAP_KEPT = False


def _keep_heap() -> None:
    """Let this worker process reuse freed memory for the blocks' temporaries.

    Dask's nanny starts workers with ``MALLOC_TRIM_THRESHOLD_`` set low (to hand memory
    back to the system sooner), which also freezes glibc's mmap threshold at 128 KiB:
    every block's temporaries (hundreds of KiB) are then mapped, page-faulted and
    unmapped block after block: 18,000-26,000 page faults in a worker for one sparse
    autoencoder evaluation of 20,000 rows, about 300 with both thresholds raised to
    32 MiB (a few blocks' worth, not the chunks), once per worker, as here.
    """
    global _HEAP_KEPT
    if _HEAP_KEPT:
        return
    _HEAP_KEPT = True
    try:
        import ctypes

        libc = ctypes.CDLL("libc.so.6")
        libc.mallopt(-1, 32 << 20)  # M_TRIM_THRESHOLD
        libc.mallopt(-3, 32 << 20)  # M_MMAP_THRESHOLD
    except (OSError, AttributeError):  # not glibc: nothing to do
        pass


def _run_chunk(fn, X, y, T, w, start, keep, kept, rows, args):
    """One chunk's ``(cost, parts, kept items)`` by the NumPy engine, on a worker.

    ``kept``: what an earlier pass kept for this chunk's blocks; ``rows``: the chunk's
    rows to use (a minibatch's share), or None for all of them.
    """
    from contextlib import nullcontext

    if isinstance(kept, tuple):  # an earlier pass's whole result for this chunk
        kept = kept[2]

    if rows is not None:
        X = X[rows]
        y = None if y is None else y[rows]
        T = None if T is None else T[rows]
        w = None if w is None else w[rows]
    threads = _worker_threads()
    if threads is not None:
        _keep_heap()
    widths = getattr(args[1], "widths", ()) if len(args) > 1 else ()  # args: (theta, spec, ...)
    engine = NumpyRows(X, y, T, n_threads=threads or 1, widths=widths, offset=int(start), w=w)
    # Dask's threaded scheduler already runs the chunks side by side: one BLAS thread each
    with blas_single_thread() if threads is None else nullcontext():
        return engine.map_sum(fn, args, keep=keep, kept=kept)


def _content_key(a: np.ndarray) -> tuple:
    """Identifies an array by its contents (the parameters are updated in place, so their
    identity does not tell one step's from the next)."""
    import hashlib

    return a.shape, a.dtype.str, hashlib.blake2b(np.ascontiguousarray(a).data, digest_size=16).digest()


def _sum_chunks(results):
    """``(cost, parts)``: the sum of chunks' results (or of such sums)."""
    cost, parts = results[0][0], [np.array(p, copy=True) for p in results[0][1]]
    for result in results[1:]:
        cost += result[0]
        for a, p in zip(parts, result[1]):
            a += p
    return cost, parts


class DaskRows:
    """Rows of a Dask array chunked by rows; same interface as
    :class:`~._numpy.NumpyRows`, results on the client as NumPy arrays."""

    kind = "dask"

    def __init__(self, X, y=None, T=None, *, rows=None, w=None):
        import array_api_compat.numpy as xnp
        import dask.array as da

        if len(X.chunks[1]) != 1:
            X = X.rechunk({1: -1})
        self.X = X
        self.chunks = X.to_delayed().ravel().tolist()
        self.chunk_starts = np.concatenate([[0], np.cumsum(X.chunks[0])[:-1]]).astype(int).tolist()
        self.offsets = self.chunk_starts  # each chunk's first row's index (keys noise and masks)
        if y is not None and not hasattr(y, "dask"):
            y = np.asarray(y)  # labels, or a regression's targets (one or more columns)
            y = da.from_array(y, chunks=(X.chunks[0], *(-1,) * (y.ndim - 1))).persist()
        elif y is not None and y.chunks[0] != X.chunks[0]:
            y = y.rechunk({0: X.chunks[0]})
        if T is not None and T.chunks != X.chunks:
            T = T.rechunk(X.chunks)
        # row weights: NumPy on the client (their sums), in chunks like X's for the tasks
        self.w_host = None if w is None else np.asarray(w)
        w = None if w is None else da.from_array(self.w_host, chunks=(X.chunks[0],)).persist()
        self.y, self.T, self.w = y, T, w
        self.w_chunks = None if w is None else w.to_delayed().ravel().tolist()
        self.y_chunks = None if y is None else y.to_delayed().ravel().tolist()
        self.T_chunks = None if T is None else T.to_delayed().ravel().tolist()
        self.local_rows = rows  # per chunk: the rows of a minibatch in it (or None: all)
        self.n_samples = X.shape[0] if rows is None else int(sum(len(r) for r in rows if r is not None))
        self.weight_total = self.n_samples if w is None else float(np.sum(self.w_host, dtype=np.float64))
        self.n_features = X.shape[1]
        self.dtype = X.dtype.type
        self.xp = xnp
        self.device = "cpu"
        self._sent: list = []  # (contents key, future) of the last arrays sent
        self._chunk_futures = None

    def subset(self, rows):
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
        engine.n_samples = int(len(rows))
        engine.weight_total = engine.n_samples if self.w is None else float(np.sum(self.w_host[rows], dtype=np.float64))
        engine._sent = self._sent
        engine._chunk_futures = self._chunk_futures
        return engine

    def asarray(self, a):
        return np.ascontiguousarray(a, dtype=self.dtype)

    def scalar(self, a) -> float:
        return float(a)

    def _send(self, args, client):
        """``args`` where the tasks take them: every array as the result of one task
        that holds it (one sent in one of the last calls, with the same contents, is not
        sent again). The scheduler keeps the array in that task, so it can run it again
        on another worker if the worker holding the result dies (see the module's notes)."""
        sent = []
        for a in args:
            if isinstance(a, np.ndarray):
                key = _content_key(a)
                future = next((f for k, f in self._sent if k == key), None)
                if future is None:
                    with warnings.catch_warnings():
                        # the array is meant to travel in its task: that is its lineage
                        warnings.filterwarnings("ignore", message="Sending large graph")
                        future = client.submit(_held, a, pure=False)
                    self._sent.append((key, future))
                    STATS["sent_bytes"] += 2 * a.nbytes  # to the scheduler, on to one worker
                sent.append(future)
            else:
                sent.append(a)
        del self._sent[:-4]
        return tuple(sent)

    def map_sum(self, fn, args=(), *, keep=False, kept=None, copy=True):
        """As :meth:`NumpyRows.map_sum`: ``kept`` (from a ``keep=True`` pass) is a list of
        per-chunk results that stay on the workers. The parts are always fresh arrays
        (gathered from the workers), so ``copy`` changes nothing."""
        client = client_or_none()
        # the chunks with rows to use (a minibatch's may leave some out)
        chunks = [c for c, rows in enumerate(self.local_rows or [()] * len(self.chunks)) if rows is not None]
        if client is None:
            return self._map_sum_threaded(fn, args, keep, kept, chunks)
        from distributed import wait

        shared = self._send(args, client)
        X, y, T, w = self._futures(client)
        # each chunk's task goes where its rows are: the parameters' one holder would
        # otherwise draw chunks to itself when their tasks become ready at once and in no
        # order (a worker that has died falls back to any other: loose restrictions)
        chunk_holders = client.who_has([X[c] for c in chunks])
        futures = []
        for c in chunks:
            chunk_args = self._chunk_args(c, (X, y, T, w), keep, kept, shared)
            place = _near(chunk_holders.get(X[c].key))  # none yet: the chunk is still being read
            futures.append(client.submit(_run_chunk, fn, *chunk_args, pure=False, **place))
        wait(futures)
        # sum each worker's chunks where they are, then those sums: a gradient crosses
        # from each worker but one
        where = client.who_has(futures)
        groups: dict = {}
        for future in futures:
            holders = where.get(future.key) or ("",)  # none: its worker died since
            groups.setdefault(holders[0], []).append(future)
        partials = [
            client.submit(_sum_chunks, group, pure=False, **_near([worker] if worker else None))
            for worker, group in groups.items()
        ]
        total = partials[0] if len(partials) == 1 else client.submit(_sum_chunks, partials, pure=False)
        cost, parts = total.result()
        kept_out = None
        if keep:
            kept_out = [None] * len(self.chunks)
            for c, future in zip(chunks, futures):
                kept_out[c] = future
        return cost, parts, kept_out

    def _chunk_args(self, c, sources, keep, kept, shared):
        """The arguments of :func:`_run_chunk` after ``fn`` for chunk ``c``; ``sources``
        holds X, y, T and w chunk by chunk (futures on a cluster, Dask chunks without one)."""
        X, y, T, w = sources
        return (
            X[c],
            None if y is None else y[c],
            None if T is None else T[c],
            None if w is None else w[c],
            self.offsets[c],
            keep,
            None if kept is None else kept[c],
            None if self.local_rows is None else self.local_rows[c],
            shared,
        )

    def _futures(self, client):
        """Futures of the chunks of X, y, T and w (persisted on the cluster once)."""
        if self._chunk_futures is None:
            self._chunk_futures = tuple(
                None if a is None else _chunk_futures(client, a) for a in (self.X, self.y, self.T, self.w)
            )
        return self._chunk_futures

    def _map_sum_threaded(self, fn, args, keep, kept, chunks):
        """Without a cluster: the same tasks by Dask's threaded scheduler, a tree-sum."""
        import dask
        from dask import delayed

        shared = delayed(args, traverse=True)
        sources = (self.chunks, self.y_chunks, self.T_chunks, self.w_chunks)
        tasks = [delayed(_run_chunk, pure=False)(fn, *self._chunk_args(c, sources, keep, kept, shared)) for c in chunks]
        kept_out = None
        if keep:
            tasks = list(dask.persist(*tasks))
            kept_out = [None] * len(self.chunks)
            for c, task in zip(chunks, tasks):
                kept_out[c] = task
        level = tasks
        while len(level) > 1:
            nxt = [delayed(_sum_chunks)(level[i : i + 2]) for i in range(0, len(level) - 1, 2)]
            if len(level) % 2:
                nxt.append(level[-1])
            level = nxt
        (cost, parts) = dask.compute(delayed(_sum_chunks)(level))[0]
        return cost, parts, kept_out


def _near(workers) -> dict:
    """``submit`` keywords that prefer ``workers`` (any other if they are gone: loose
    restrictions), or none when no worker is known: distributed refuses
    ``allow_other_workers`` without ``workers`` (a ValueError that ended a fit when a
    worker died between a chunk's task and the sums)."""
    return {"workers": list(workers), "allow_other_workers": True} if workers else {}


def _held(a):
    """The task that holds an array sent to the workers (:meth:`DaskRows._send`)."""
    return a


def _chunk_futures(client, array):
    """One future per row chunk of the Dask ``array``, in order (persisting it if needed)."""
    from distributed import futures_of

    found = {f.key: f for f in futures_of(array)}
    keys = [k[0] if isinstance(k, list) else k for k in array.__dask_keys__()]
    if not all(k in found for k in keys):
        array = client.persist(array)
        found = {f.key: f for f in futures_of(array)}
        keys = [k[0] if isinstance(k, list) else k for k in array.__dask_keys__()]
    return [found[k] for k in keys]
