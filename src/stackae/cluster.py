"""Training on a Dask cluster: rows as Dask arrays, and the cluster to run them on.

Any stackae estimator trains data-parallel when ``X`` is a Dask array chunked by rows:
on the cluster of the current ``distributed.Client``, or with Dask's threaded scheduler
in this process when there is none (see :mod:`stackae._rows._dask` for what one
evaluation does).

>>> from stackae.cluster import dask_rows, connect
>>> with connect(workers=4) as client:                  # a LocalCluster of 4 processes
...     X = dask_rows("big.npy")                          # read chunk by chunk on the workers
...     clf = StackedAutoencoderClassifier(...).fit(X, y)

Needs ``pip install 'stackae[cluster]'`` (dask and distributed).
"""

from __future__ import annotations

import contextlib
import os
from pathlib import Path
from typing import Any

import numpy as np

from . import _xp
from ._rows._dask import client_or_none

__all__ = ["dask_rows", "connect", "chunk_rows_for"]

#: The most rows a chunk gets by default (about 200 MB of 784 float32 features).
MAX_CHUNK_ROWS = 1 << 16


def _require_dask():
    try:
        import dask.array as da  # noqa: F401
        import distributed  # noqa: F401
    except ImportError:
        raise ValueError(
            "Training on a Dask cluster needs dask and distributed: pip install 'stackae[cluster]'."
        ) from None


def chunk_rows_for(n_samples: int, n_workers: int = 1) -> int:
    """Rows per chunk: at least 4 chunks per worker (so a lost worker's share is spread
    over the others), at most :data:`MAX_CHUNK_ROWS`, and a number of chunks that the
    workers share evenly, all of (nearly) one size: an evaluation waits for its busiest
    worker (1,000,000 rows in chunks of 65,536 rows put 8 full chunks on one of 2
    workers and 7 and a small one on the other)."""
    workers = max(1, n_workers)
    chunks = max(4 * workers, -(-n_samples // MAX_CHUNK_ROWS))
    chunks = -(-chunks // workers) * workers
    return int(max(1, -(-n_samples // chunks)))


def _read_npy_rows(path: str, lo: int, hi: int) -> np.ndarray:
    """Rows ``lo:hi`` of a ``.npy`` file, read on the worker (a copy, not a mapping)."""
    X = np.load(path, mmap_mode="r")
    return np.array(X[lo:hi])


def _is_whole_npy_map(a) -> bool:
    """A memory map of a whole ``.npy`` file (which the workers can open themselves)."""
    filename = getattr(a, "filename", None)
    if not isinstance(a, np.memmap) or not filename or not str(filename).endswith(".npy"):
        return False
    whole = np.load(filename, mmap_mode="r")
    return whole.shape == a.shape and whole.dtype == a.dtype and a.flags.c_contiguous and a.offset == whole.offset


def dask_rows(source, chunk_rows: int | None = None, n_workers: int | None = None):
    """``source`` as a Dask array chunked by rows (all columns in each chunk).

    Parameters
    ----------
    source : ndarray, memory-mapped ndarray, Zarr array, Dask array, or a path to a
        ``.npy`` file or a Zarr store
        A memory map or ``.npy`` path is read by the workers, chunk by chunk, from the
        file (nothing is sent through the client); a Zarr array likewise; an array in
        memory is sent to the cluster once.
    chunk_rows : int, optional
        Rows per chunk (default :func:`chunk_rows_for`).
    n_workers : int, optional
        The cluster's workers (default: the current client's, else 1), for the default
        chunk size.
    """
    _require_dask()
    import dask
    import dask.array as da

    if n_workers is None:
        client = client_or_none()
        n_workers = len(client.scheduler_info()["workers"]) if client is not None else 1
    if isinstance(source, str | os.PathLike):
        path = Path(source)
        if path.suffix == ".npy":
            source = np.load(path, mmap_mode="r")
        else:
            import zarr

            opened: Any = zarr.open(str(path), mode="r")
            source = opened["X"] if hasattr(opened, "keys") and "X" in opened else opened
    if _xp.is_dask(source):
        X = source
        if chunk_rows is not None:
            X = X.rechunk({0: chunk_rows})
        return X.rechunk({1: -1})
    rows = chunk_rows or chunk_rows_for(source.shape[0], n_workers)
    if _is_whole_npy_map(source):
        filename = str(source.filename)
        parts = [
            da.from_delayed(
                dask.delayed(_read_npy_rows)(filename, lo, min(lo + rows, source.shape[0])),
                shape=(min(lo + rows, source.shape[0]) - lo, source.shape[1]),
                dtype=source.dtype,
            )
            for lo in range(0, source.shape[0], rows)
        ]
        return da.concatenate(parts, axis=0)
    if _xp.is_zarr(source):
        return da.from_zarr(source).rechunk({0: rows, 1: -1})
    return da.from_array(np.asarray(source), chunks=(rows, -1))


@contextlib.contextmanager
def connect(
    workers: int | None = None,
    scheduler: str | None = None,
    *,
    threads_per_worker: int | None = None,
):
    """A ``distributed.Client``: to the scheduler at ``scheduler``, or to a new
    ``LocalCluster`` of ``workers`` processes (on this machine's loopback; by default
    the cores shared out between them), closed at the end. Yields the client;
    ``client.dashboard_link`` is the dashboard (which needs bokeh), on a free port."""
    _require_dask()
    from distributed import Client, LocalCluster

    if scheduler is not None:
        client = Client(scheduler)
        try:
            yield client
        finally:
            client.close()
        return
    n = int(workers or 1)
    if threads_per_worker is None:
        threads_per_worker = max(1, (len(os.sched_getaffinity(0)) if hasattr(os, "sched_getaffinity") else 1) // n)
    cluster = LocalCluster(
        n_workers=n,
        threads_per_worker=threads_per_worker,
        processes=True,
        host="127.0.0.1",
        # a free port, never 8787: the scheduler's HTTP server listens even without a
        # dashboard (None means the default port), and a taken port is a warning
        dashboard_address=":0",
    )
    client = Client(cluster)
    try:
        yield client
    finally:
        client.close()
        cluster.close()


def _has_bokeh() -> bool:
    try:
        import bokeh  # noqa: F401
    except ImportError:
        return False
    return True
