"""Training data in whatever holds it: validation, moving to a device, the features of
the next stage, minibatch rows and validation splits, for every kind of ``X``.

==================  ==================================================================
``X``               how it is taken
==================  ==================================================================
array-like          scikit-learn's ``validate_data`` (a NumPy array, float32/float64)
NumPy memory map    as it is (never read whole); checked block by block
Zarr array          as it is, read block by block
SciPy sparse        as CSR, made dense a block of rows at a time, never whole
                    (``accept_sparse`` of ``validate_data``)
PyTorch / CuPy      where it lives (``device`` must agree or be ``"cpu"``)
Dask array          rechunked by rows, persisted on the cluster, checked there
==================  ==================================================================

With ``device="cuda"`` (or ``"cuda:N"``), array-like input is validated on the host and
moved to the GPU once, in float32 unless it is float64.
"""

from __future__ import annotations

import numpy as np
from sklearn.utils.validation import check_is_fitted, validate_data

from .. import _xp
from .._rows import release_pages, rows_of
from .._xp import numpy_dtype
from ..exceptions import DataError
from ..objectives import feedforward, validated_weights

FLOAT_DTYPES = (np.float64, np.float32)


def is_out_of_core(X) -> bool:
    """Rows read from a file block by block: a memory map or a Zarr array."""
    return _xp.is_zarr(X) or (isinstance(X, np.memmap))


def is_array_like(X) -> bool:
    """Input for scikit-learn's own validation (lists, NumPy arrays, pandas, SciPy
    sparse matrices, ...)."""
    return not (is_out_of_core(X) or _xp.is_dask(X) or (_xp.is_array(X) and not _xp.is_numpy(X)))


def _set_n_features(est, X, reset: bool) -> None:
    n = int(X.shape[1])
    if reset:
        est.n_features_in_ = n
        est.__dict__.pop("feature_names_in_", None)
    elif n != est.n_features_in_:
        raise ValueError(
            f"X has {n} features, but {type(est).__name__} is expecting {est.n_features_in_} features as input."
        )


def _check_shape(X, what: str = "X") -> None:
    if len(X.shape) != 2:
        raise ValueError(f"Expected a 2-dimensional {what} (n_samples, n_features), got shape {tuple(X.shape)}.")
    if X.shape[0] < 1 or X.shape[1] < 1:
        raise ValueError(f"Found array with shape {tuple(X.shape)}: at least one sample and one feature are needed.")


def _file_blocks(X, rows: int = 1 << 14):
    """A file's rows (a memory map, a Zarr array) as NumPy blocks, read in turn, the
    pages handed back after each block and at the end."""
    try:
        for lo in range(0, X.shape[0], rows):
            yield np.asarray(X[lo : lo + rows])
            release_pages(X)
    finally:
        release_pages(X)


def _blockwise_finite(X) -> bool:
    """Whether a file's rows are all finite, read block by block."""
    return all(np.all(np.isfinite(block)) for block in _file_blocks(X))


def _non_finite_error() -> DataError:
    return DataError("Input X contains NaN or infinity; remove or impute those values first.")


def check_fit_data(est, X, y=None, *, reset: bool = True, device="cpu", needs_y: bool = False, multi_output=False):
    """``(X, y)`` ready for training (see the module's table); sets ``n_features_in_``.

    ``y`` comes back as a NumPy array (labels and targets are small; they go where the
    rows are when a stage needs them there): a vector, or with ``multi_output`` (a
    regression's targets) numbers of shape ``(n_samples,)`` or ``(n_samples, n_targets)``.
    """
    target = _xp.resolve_device(device)
    if needs_y and y is None:
        raise ValueError(f"{type(est).__name__} requires y to be passed, but the target y is None.")
    if is_array_like(X):
        if needs_y:
            X, y = validate_data(
                est,
                X,
                _xp.to_numpy(y),
                dtype=FLOAT_DTYPES,
                reset=reset,
                multi_output=multi_output,
                y_numeric=multi_output,
                accept_sparse="csr",
            )
        else:
            X = validate_data(est, X, dtype=FLOAT_DTYPES, reset=reset, accept_sparse="csr")
        if _xp.is_sparse(X) and target is not None:
            raise ValueError(
                f"device={device!r} takes dense arrays; a sparse X trains on the CPU (device='cpu'), a block "
                "of rows made dense at a time."
            )
        if target is not None:
            X = _xp.to_device(X, target, np.float64 if X.dtype == np.float64 else np.float32)
        return X, y
    _check_shape(X)
    if target is not None and _xp.library(X) not in ("torch", "cupy"):
        raise ValueError(
            f"device={device!r} takes NumPy arrays (moved to the GPU) or arrays already on it, "
            f"got {_xp.describe(X)}; use device='cpu' for it."
        )
    if _xp.is_dask(X):
        X = _prepare_dask(X)
    elif is_out_of_core(X):
        if X.dtype not in FLOAT_DTYPES:
            raise ValueError(
                f"A memory-mapped or Zarr X must hold float32 or float64 values (it is read as it is), "
                f"got dtype {X.dtype}; convert the file once."
            )
        if not _blockwise_finite(X):
            raise _non_finite_error()
    else:
        xp = _xp.namespace(X)
        if target is not None and str(_xp.device_of(X)) != str(target[1]):
            raise ValueError(f"X is on {_xp.device_of(X)} but device={device!r}; move X, or set device to match.")
        if X.dtype not in (xp.float32, xp.float64):
            X = xp.astype(X, xp.float32)
        if not bool(xp.all(xp.isfinite(X))):
            raise _non_finite_error()
    _set_n_features(est, X, reset)
    if needs_y:
        y = np.asarray(_xp.to_numpy(y))
        if y.ndim not in ((1, 2) if multi_output else (1,)) or y.shape[0] != X.shape[0]:
            what = "targets" if multi_output else "labels"
            raise ValueError(f"y must be a vector of {X.shape[0]} {what} (one per row of X), got shape {y.shape}.")
        if multi_output and not np.all(np.isfinite(y)):
            raise DataError("Input y contains NaN or infinity; remove or impute those values first.")
    return X, y


def _prepare_dask(X):
    """Rows in chunks, all columns in each chunk, float dtype, persisted, checked."""
    import dask.array as da

    if X.dtype not in FLOAT_DTYPES:
        X = X.astype(np.float32 if X.dtype == np.float16 else np.float64)
    if len(X.chunks[1]) != 1:
        X = X.rechunk({1: -1})
    if any(np.isnan(c) for c in X.chunks[0]):
        raise ValueError("A Dask X must have known chunk sizes; call X.compute_chunk_sizes() first.")
    X = X.persist()
    if not bool(da.isfinite(X).all().compute()):
        raise _non_finite_error()
    return X


def check_predict_X(est, X):
    """``X`` for prediction or transform, in its own library (NumPy for array-likes)."""
    check_is_fitted(est)
    if is_array_like(X):
        return validate_data(est, X, dtype=FLOAT_DTYPES, reset=False, accept_sparse="csr")
    _check_shape(X)
    _set_n_features(est, X, reset=False)
    if is_out_of_core(X):
        return np.asarray(X[:])
    return X


# ------------------------------------------------------------- stages' plumbing
def host(a):
    """A fitted attribute: always a NumPy array."""
    return _xp.to_numpy(a)


def on_rows_of(X, a):
    """``a`` (a NumPy array: weights, labels) where ``X``'s rows live."""
    if _xp.on_host(X) or a is None:
        return a
    xp = _xp.namespace(X)
    return xp.asarray(a, device=_xp.device_of(X))


def weights_like(X, a):
    """Weights for computing with ``X``'s rows: in its namespace, dtype and device."""
    if _xp.on_host(X):
        return np.asarray(a, dtype=X.dtype)
    xp = _xp.namespace(X)
    return xp.asarray(np.asarray(a), dtype=X.dtype, device=_xp.device_of(X))


def encode(X, weights, biases, activation: str):
    """The next stage's input: ``f(... f(X W1 + b1) ...)``, kept where ``X`` lives (on the
    device; persisted on the workers; in memory for a file)."""
    weights = [weights_like(X, W) for W in weights]
    biases = [weights_like(X, b) for b in biases]
    if not weights:
        return X
    if _xp.is_dask(X):
        n_out = weights[-1].shape[1]
        return X.map_blocks(
            feedforward, weights, biases, activation, dtype=X.dtype, chunks=(X.chunks[0], (n_out,))
        ).persist()
    if is_out_of_core(X):
        parts = []
        step = 1 << 14
        for lo in range(0, X.shape[0], step):
            parts.append(feedforward(np.asarray(X[lo : lo + step]), weights, biases, activation))
        release_pages(X)
        return np.concatenate(parts)
    return feedforward(X, weights, biases, activation)  # a sparse X: a block of rows at a time


def take_rows(X, rows, *, dense=True):
    """Rows ``rows`` (a NumPy index array, or one on ``X``'s device) of ``X``; of a
    sparse ``X``, made dense (a minibatch) or, with ``dense=False``, kept sparse."""
    if _xp.is_numpy(X):
        return X[rows]
    if _xp.is_sparse(X):
        return np.ascontiguousarray(X[rows].toarray()) if dense else X[rows]
    if _xp.is_zarr(X):
        return np.asarray(X.get_orthogonal_selection((rows, slice(None))))
    xp = _xp.namespace(X)
    return _xp.take_rows(X, xp.asarray(rows, device=_xp.device_of(X)))


def take_labels(y, rows):
    """Labels ``rows`` of ``y`` (NumPy, or on the device with an index there)."""
    if y is None:
        return None
    if _xp.is_numpy(y):
        return y[_xp.to_numpy(rows)]
    xp = _xp.namespace(y)
    return _xp.take_rows(y, xp.asarray(rows, device=_xp.device_of(y)))


def batch_source(X, y, w=None):
    """``batch(index) -> rows engine`` for minibatches of ``X`` (labels ``y`` and row
    weights ``w`` where ``X`` lives). In memory and on a device the rows are gathered;
    on a cluster each chunk's task takes its share where it lives. (A denoising
    autoencoder corrupts each block of a batch in its block function.)"""

    if _xp.is_dask(X):
        full = rows_of(X, y, w=w)

        def dask_batch(index):
            return full.subset(np.sort(_xp.to_numpy(index)))

        return dask_batch
    mapped = isinstance(X, np.memmap)

    def batch(index):
        Xb = take_rows(X, index)
        if mapped:
            # Hand the pages back after every batch: a hand-back costs in proportion to
            # the pages mapped since the last one, so this costs no more in all, and a
            # random row maps far more than its own bytes (the kernel maps the whole
            # cached folio around it), so handing back every batch keeps the resident
            # memory lowest.
            release_pages(X)
        yb = None if y is None else take_labels(y, index)
        wb = None if w is None else take_labels(w, index)
        return rows_of(Xb, yb, None, w=wb)

    return batch


def validation_rows(n: int, y, fraction: float, rng, *, stratify: bool):
    """``(train, val)``: sorted indices of the training and the held-out rows (a
    ``fraction`` of ``n``), drawn from ``rng``, stratified by ``y`` when asked and possible."""
    from sklearn.model_selection import train_test_split

    index = np.arange(n)
    labels = y if stratify and y is not None else None
    if labels is not None:
        _, counts = np.unique(labels, return_counts=True)
        n_val = int(np.ceil(fraction * n))
        if counts.min() < 2 or n_val < counts.size or n - n_val < counts.size:
            labels = None
    seed = int(rng.randint(2**31)) if hasattr(rng, "randint") else int(rng.integers(2**31))
    train, val = train_test_split(index, test_size=fraction, random_state=seed, stratify=labels)
    if train.size == 0 or val.size == 0:
        raise ValueError(
            f"validation_fraction={fraction} leaves no samples to train on or to validate with "
            f"({n} samples); use more samples or another fraction."
        )
    return np.sort(train), np.sort(val)


def check_splittable(X) -> None:
    """Refuse a validation split of rows read from a file, which would copy them."""
    if is_out_of_core(X):
        raise ValueError(
            "early_stopping needs a validation split, which a memory-mapped or Zarr X cannot give without "
            "copying it; split the file yourself and pass the validation part to your own scoring."
        )


def split_validation(X, y, fraction: float, rng, *, stratify: bool, sample_weight=None):
    """``(X_train, y_train, X_val, y_val, w_train)``: a held-out ``fraction`` of the
    rows (:func:`validation_rows`) and the training rows' weights (None without
    ``sample_weight``; the validation scores are not weighted)."""
    train, val = validation_rows(X.shape[0], y, fraction, rng, stratify=stratify)
    w_train = None if sample_weight is None else sample_weight[train]
    if _xp.is_dask(X):
        y_train, y_val = (None, None) if y is None else (y[train], y[val])
        return X[train].persist(), y_train, X[val].persist(), y_val, w_train
    check_splittable(X)
    return (
        take_rows(X, train, dense=False),
        take_labels(y, train),
        take_rows(X, val, dense=False),
        take_labels(y, val),
        w_train,
    )


def check_fit_weights(sample_weight, n_samples: int):
    """``sample_weight`` of ``fit`` as a float64 NumPy vector (a single number: every row
    that weight), or None; checked by :func:`stackae.objectives.validated_weights`."""
    if sample_weight is None:
        return None
    w = np.asarray(_xp.to_numpy(sample_weight) if _xp.is_array(sample_weight) else sample_weight, dtype=np.float64)
    if w.ndim == 0:
        w = np.full(n_samples, float(w))
    return validated_weights(w, n_samples)


def check_unit_interval(X, why: str) -> None:
    """Raise unless every value of ``X`` is in [0, 1] (``why``: what needs it, for the
    message), read block by block from a file, on the workers for Dask."""
    if _xp.is_dask(X):
        import dask

        low, high = (float(v) for v in dask.compute(X.min(), X.max()))
    elif _xp.is_sparse(X):
        values = X.data
        low, high = (float(values.min()), float(values.max())) if values.size else (0.0, 0.0)
        if X.nnz < X.shape[0] * X.shape[1]:  # the zeros not stored
            low, high = min(low, 0.0), max(high, 0.0)
    elif is_out_of_core(X):
        low, high = np.inf, -np.inf
        for block in _file_blocks(X):
            low, high = min(low, float(block.min())), max(high, float(block.max()))
    elif _xp.is_numpy(X):
        low, high = float(X.min()), float(X.max())
    else:
        xp = _xp.namespace(X)
        low, high = float(xp.min(X)), float(xp.max(X))
    if low < 0.0 or high > 1.0:
        raise ValueError(
            f"{why} needs inputs in [0, 1] (it reconstructs them as probabilities), got values in "
            f"{low:.4g}..{high:.4g}; scale X to [0, 1] or use reconstruction_loss='squared'."
        )


# ------------------------------------------------------------------ unlabeled rows
class RowChain:
    """Several row sources read as one (``X`` then ``X_unlabeled``) without copying them
    into one array: the shape, dtype, row slicing and ``get_orthogonal_selection`` of a
    Zarr array, which every engine and helper reads block by block. For memory maps and
    Zarr arrays too large to concatenate."""

    def __init__(self, parts):
        self.parts = list(parts)
        self.dtype = np.dtype(self.parts[0].dtype)
        self.edges = np.cumsum([0, *(int(p.shape[0]) for p in self.parts)])
        self.shape = (int(self.edges[-1]), int(self.parts[0].shape[1]))
        self.ndim = 2
        self.chunks = (1024, self.shape[1])  # a read size, not a storage unit: the engines size their blocks

    def __len__(self):
        return self.shape[0]

    def _rows(self, part, index):
        src = self.parts[part]
        rows = src.get_orthogonal_selection((index, slice(None))) if _xp.is_zarr(src) else src[index]
        return np.asarray(rows, dtype=self.dtype)

    def __getitem__(self, key):
        rows = key[0] if isinstance(key, tuple) else key
        if isinstance(rows, slice):
            lo, hi, step = rows.indices(self.shape[0])
            if step == 1:
                pieces = []
                for part, (a, b) in enumerate(zip(self.edges[:-1], self.edges[1:])):
                    if lo < b and hi > a:
                        pieces.append(self._rows(part, slice(max(lo, a) - a, min(hi, b) - a)))
                out = np.concatenate(pieces) if pieces else np.empty((0, self.shape[1]), self.dtype)
                return out if not isinstance(key, tuple) else out[(slice(None),) + tuple(key[1:])]
            rows = np.arange(lo, hi, step)
        return self.get_orthogonal_selection((np.asarray(rows), slice(None)))

    def get_orthogonal_selection(self, selection):
        rows = np.asarray(selection[0])
        part_of = np.searchsorted(self.edges, rows, side="right") - 1
        out = np.empty((rows.size, self.shape[1]), dtype=self.dtype)
        for part in np.unique(part_of):
            where = part_of == part
            out[where] = self._rows(int(part), rows[where] - self.edges[part])
        return out[:, selection[1]]


def check_unlabeled_data(est, X_unlabeled, X):
    """``X_unlabeled`` of ``fit`` checked against ``X`` (its features, its dtype, where
    it lives): array-likes validated as ``X`` is, memory maps, Zarr, Dask, PyTorch and
    CuPy arrays as they are, their values checked finite (block by block)."""
    what = "X_unlabeled"
    if is_array_like(X_unlabeled) and not isinstance(X_unlabeled, np.memmap):
        from sklearn.utils import check_array

        on_host = _xp.is_numpy(X) or _xp.is_sparse(X) or is_out_of_core(X) or _xp.is_dask(X)
        U = check_array(X_unlabeled, dtype=FLOAT_DTYPES, accept_sparse="csr", input_name=what)
        if not on_host:  # X on a device: the unlabeled rows go there too
            xp = _xp.namespace(X)
            U = xp.asarray(U, dtype=X.dtype, device=_xp.device_of(X))
    else:
        _check_shape(X_unlabeled, what)
        U = X_unlabeled
        if is_out_of_core(U):
            if not _blockwise_finite(U):
                raise _non_finite_error()
        elif _xp.is_dask(U):
            U = _prepare_dask(U)
        elif not _xp.is_numpy(U):
            xp = _xp.namespace(U)
            if _xp.on_host(X) or str(_xp.device_of(U)) != str(_xp.device_of(X)):
                raise ValueError(
                    f"X_unlabeled is {_xp.describe(U)} but X is {_xp.describe(X)}; pass both where the "
                    "training runs (the same device), or NumPy arrays."
                )
            if not bool(xp.all(xp.isfinite(U))):
                raise _non_finite_error()
    if U.ndim != 2 or U.shape[1] != X.shape[1]:
        raise ValueError(
            f"X_unlabeled has {U.shape[1] if U.ndim == 2 else 'no'} features per row, but X has "
            f"{X.shape[1]}; both must describe the same features."
        )
    if U.shape[0] == 0:
        return None
    return U


def chain_rows(X, more):
    """``X``'s rows then ``more``'s as one source: one array where both are in memory
    (or a Dask array, a device array), a :class:`RowChain` where either is a file."""
    if more is None:
        return X
    dtype = numpy_dtype(X.dtype)
    if _xp.is_dask(X) or _xp.is_dask(more):
        import dask.array as da

        parts = [p if _xp.is_dask(p) else da.from_array(np.asarray(p), chunks=(1 << 14, -1)) for p in (X, more)]
        return da.concatenate([p.astype(dtype) for p in parts]).rechunk({1: -1})
    if _xp.is_sparse(X) or _xp.is_sparse(more):
        import scipy.sparse as sp

        return sp.vstack([sp.csr_matrix(X), sp.csr_matrix(more)], format="csr").astype(dtype)
    if is_out_of_core(X) or is_out_of_core(more):
        if np.dtype(more.dtype) != dtype:
            raise ValueError(
                f"X_unlabeled is a file of dtype {more.dtype}, X of {dtype}; files are read as they are, "
                "so both must hold the same dtype."
            )
        return RowChain([X, more])
    if _xp.is_numpy(X):
        return np.concatenate([X, np.asarray(more, dtype=dtype)])
    xp = _xp.namespace(X)
    return xp.concat([X, xp.astype(more, X.dtype)])
