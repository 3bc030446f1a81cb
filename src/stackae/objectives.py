r"""Cost-and-gradient functions: autoencoders, softmax regression, the whole stack.

Conventions, the same everywhere in stackae:

* one row per sample: ``X`` has shape ``(m, n_0)``;
* a layer's weights ``W`` have shape ``(n_in, n_out)`` so that ``Z = A @ W + b``;
* ``theta`` is one flat vector, packed as described in :mod:`stackae._params`:
  all weight matrices (C order) in layer order, then all biases in layer order;
* each function returns ``(cost, grad)``: ``cost`` a Python float, ``grad`` an array of
  the same shape and dtype as ``theta``, in ``theta``'s namespace and on its device;
* the arithmetic runs in float32 when ``X`` is float32, else in float64.

``X`` may be a NumPy array (or memory map, or Zarr array), a PyTorch tensor or CuPy
array (CPU or GPU), or a Dask array chunked by rows: :mod:`stackae._rows` decides how
the blocks of rows are run and summed. Every cost is a sum over samples: the
``_*_block`` functions below say what one block of rows contributes, written once
against the array API; the public functions add the regularisation once, after the
sum.

References
----------
UFLDL Tutorial, "Sparse Autoencoder", "Softmax Regression" and "Fine-tuning Stacked
AEs", http://ufldl.stanford.edu/wiki/ ;
P. Vincent et al., "Stacked Denoising Autoencoders", JMLR 11 (2010) ;
S. Rifai et al., "Contractive Auto-Encoders", ICML 2011 ;
N. Srivastava et al., "Dropout", JMLR 15 (2014).
"""

from __future__ import annotations

import math
import numbers
from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np

from . import _xp
from ._params import autoencoder_layout, flatten, init_theta, n_params, unpack
from ._rows import Kernels, NumpyRows, _tuning, compiled_kernels, new_kernels, rows_of
from ._xp import numpy_dtype
from .activations import HIDDEN_ACTIVATIONS, OUTPUT_ACTIVATIONS, check_activation
from .exceptions import choice_error
from .heads import SOFTMAX, Head, SoftmaxHead, output_delta

__all__ = [
    "sparse_autoencoder_cost",
    "softmax_cost",
    "stack_cost",
    "feedforward",
    "softmax_probabilities",
    "dropout_rates",
    "LOSSES",
]

#: Reconstruction losses of the autoencoders.
LOSSES = ("squared", "cross_entropy")


#: Rows of a sparse matrix made dense at a time outside the engines' blocks (inference)
SPARSE_BLOCK_ROWS = 4096


def dense_rows(X, lo: int, hi: int) -> np.ndarray:
    """Rows ``lo:hi`` of a SciPy sparse matrix as a dense C-ordered array."""
    return np.ascontiguousarray(X[lo:hi].toarray())


# --------------------------------------------------------------------------- checks
def _check_X(X, name: str = "X"):
    """``X`` as a 2-D array in the compute dtype, in its own library (a SciPy sparse
    matrix as CSR, read a block of rows at a time)."""
    if _xp.is_sparse(X):
        if X.ndim != 2 or X.shape[0] == 0:
            raise ValueError(f"'{name}' must be 2-dimensional with at least one sample, got shape {X.shape}.")
        dtype = np.float32 if X.dtype == np.float32 else np.float64
        return X.tocsr().astype(dtype, copy=False)
    if _xp.is_dask(X) or _xp.is_zarr(X):
        if X.ndim != 2:
            raise ValueError(f"'{name}' must be 2-dimensional (n_samples, n_features), got shape {X.shape}.")
        if X.dtype not in (np.float32, np.float64):
            raise ValueError(f"'{name}' must hold float32 or float64 values, got dtype {X.dtype}.")
        return X
    if not _xp.is_array(X) and not _xp.is_numpy(X):
        X = np.asarray(X)
    if _xp.is_numpy(X):
        if X.ndim != 2:
            raise ValueError(f"'{name}' must be 2-dimensional (n_samples, n_features), got shape {X.shape}.")
        if X.shape[0] == 0:
            raise ValueError(f"'{name}' must hold at least one sample, got 0.")
        dtype = np.float32 if X.dtype == np.float32 else np.float64
        if isinstance(X, np.memmap) and X.dtype == dtype and X.flags.c_contiguous:
            return X  # read block by block, never copied
        return np.ascontiguousarray(X, dtype=dtype)
    xp = _xp.namespace(X)
    if X.ndim != 2:
        raise ValueError(f"'{name}' must be 2-dimensional (n_samples, n_features), got shape {tuple(X.shape)}.")
    if X.shape[0] == 0:
        raise ValueError(f"'{name}' must hold at least one sample, got 0.")
    dtype = _xp.float_dtype(xp, X)
    return X if X.dtype == dtype else xp.astype(X, dtype)


def _check_target(T, X):
    if T is None:
        return None
    T = _check_X(T, "target")
    if tuple(T.shape) != tuple(X.shape):
        raise ValueError(f"'target' must have the shape of 'X', {tuple(X.shape)}, got {tuple(T.shape)}.")
    if _xp.library(T) != _xp.library(X):
        raise ValueError(f"'target' must be an array like 'X' ({_xp.describe(X)}), got {_xp.describe(T)}.")
    if T.dtype != X.dtype:
        T = _xp.namespace(T).astype(T, X.dtype) if not _xp.is_numpy(T) else T.astype(X.dtype)
    return T


def _check_theta(theta, expected: int, sizes_text: str, X):
    """``theta`` as a vector of the right length, in ``X``'s library (NumPy for Dask)."""
    if not _xp.is_array(theta) and not _xp.is_numpy(theta):
        theta = np.asarray(theta)
    library = _xp.library(theta)
    host = _xp.on_host(X)
    if (host and library != "numpy") or (not host and library != _xp.library(X)):
        raise ValueError(
            f"'theta' and 'X' must be arrays of the same library and device, got {_xp.describe(theta)} "
            f"and {_xp.describe(X)}."
        )
    if theta.ndim != 1 or theta.shape[0] != expected:
        raise ValueError(f"'theta' must have shape ({expected},) for {sizes_text}, got {tuple(theta.shape)}.")
    return theta


def _check_labels(y, n_samples: int, n_classes: int, X):
    """Integer labels in ``0..n_classes-1``, in ``X``'s library and device."""
    if _xp.is_dask(y):
        return y  # checked once by the estimator, chunk by chunk
    if _xp.on_host(X) or not _xp.is_array(y):
        y = np.asarray(_xp.to_numpy(y) if _xp.is_array(y) else y)
        if y.shape != (n_samples,):
            raise ValueError(f"'y' must have shape ({n_samples},), got {y.shape}.")
        if not np.issubdtype(y.dtype, np.integer):
            raise ValueError(f"'y' must hold integer class indices, got dtype {y.dtype}.")
        if n_samples and (y.min() < 0 or y.max() >= n_classes):
            raise ValueError(f"'y' must hold class indices in 0..{n_classes - 1}, got values in {y.min()}..{y.max()}.")
        y = y.astype(np.intp, copy=False)
        if _xp.on_host(X):
            return y
        xp = _xp.namespace(X)
        return xp.asarray(y.astype(np.int64), device=_xp.device_of(X))
    xp = _xp.namespace(y)
    if tuple(y.shape) != (n_samples,):
        raise ValueError(f"'y' must have shape ({n_samples},), got {tuple(y.shape)}.")
    if not xp.isdtype(y.dtype, "integral"):
        raise ValueError(f"'y' must hold integer class indices, got dtype {y.dtype}.")
    low, high = int(xp.min(y)), int(xp.max(y))
    if low < 0 or high >= n_classes:
        raise ValueError(f"'y' must hold class indices in 0..{n_classes - 1}, got values in {low}..{high}.")
    return y


def validated_weights(w, n_samples: int) -> np.ndarray:
    """Row weights as a float64 NumPy vector, checked: ``n_samples`` finite numbers >= 0
    with a positive sum (the one check of every weight, in ``fit`` and here)."""
    w = np.asarray(_xp.to_numpy(w) if _xp.is_array(w) else w, dtype=np.float64)
    if w.shape != (n_samples,):
        raise ValueError(f"'sample_weight' must have shape ({n_samples},), one weight per row, got {w.shape}.")
    if not np.all(np.isfinite(w)) or (w.size and w.min() < 0):
        raise ValueError("'sample_weight' must hold finite numbers >= 0.")
    if not w.sum() > 0:
        raise ValueError("'sample_weight' must not be all zero: no row would count.")
    return w


def check_sample_weight(w, X):
    """Row weights for the rows of ``X``: None (every row weighs 1), or
    :func:`validated_weights` in ``X``'s compute dtype (a NumPy array for NumPy, file,
    sparse and Dask rows; on ``X``'s device otherwise)."""
    if w is None:
        return None
    w_host = validated_weights(w, X.shape[0])
    dtype = np.float32 if X.dtype == np.float32 else np.float64
    if _xp.on_host(X):
        return w_host.astype(dtype)
    xp = _xp.namespace(X)
    return xp.asarray(w_host.astype(dtype), device=_xp.device_of(X))


def _check_rate(name: str, value) -> float:
    ok = isinstance(value, numbers.Real) and not isinstance(value, bool) and 0.0 <= float(value) < 1.0
    if not ok:
        raise ValueError(f"'{name}' must be a number in [0, 1), got {value!r}.")
    return float(value)


def dropout_rates(dropout, n_hidden_layers: int) -> tuple[float, ...]:
    """Drop probabilities ``(input, hidden 1, ..., hidden L)`` from ``dropout``: a number
    (every hidden layer, not the input) or a sequence of ``L + 1`` numbers."""
    if isinstance(dropout, numbers.Real) and not isinstance(dropout, bool):
        rate = _check_rate("dropout", dropout)
        return (0.0,) + (rate,) * n_hidden_layers
    try:
        rates = tuple(dropout)
    except TypeError:
        rates = None
    if rates is None or len(rates) != n_hidden_layers + 1:
        raise ValueError(
            f"'dropout' must be a number in [0, 1) or a sequence of {n_hidden_layers + 1} numbers "
            f"(the input, then each hidden layer), got {dropout!r}."
        )
    return tuple(_check_rate("dropout", r) for r in rates)


def _kl_divergence(xp, rho: float, rho_hat):
    r""":math:`KL(\rho \| \hat\rho_j) = \rho\log\frac{\rho}{\hat\rho_j}
    + (1-\rho)\log\frac{1-\rho}{1-\hat\rho_j}`, elementwise over hidden units."""
    return rho * xp.log(rho / rho_hat) + (1.0 - rho) * xp.log((1.0 - rho) / (1.0 - rho_hat))


def _finish(cost, grad, theta_in, rows):
    """``(float cost, grad in theta's dtype)``: the one place a cost leaves the device."""
    cost = float(cost)
    if _xp.is_numpy(grad):
        return cost, grad.astype(np.asarray(theta_in).dtype, copy=False)
    return cost, grad if grad.dtype == theta_in.dtype else rows.xp.astype(grad, theta_in.dtype)


# ---------------------------------------------------------- the gradient's vector
def _gradient(rows, pieces):
    """The flat gradient and the weight decay's cost from the summed ``pieces``.

    Each piece is ``(g, scale, W, alpha)``: the gradient's part ``g`` times ``scale``
    plus ``alpha * W`` (``W`` the parameters it decays, ``alpha`` 0 for none), raveled
    in order into one new vector; the cost is ``sum alpha/2 ||W||^2`` (a float, or a 0-d
    array on a device). On the host each piece is written into the vector in one pass
    (:func:`~stackae._rows._compiled.scaled_plus`), with no temporary arrays: an
    autoencoder's decay otherwise makes ten passes over its weights.
    """
    xp = rows.xp
    decay = 0.0
    for _, _, W, alpha in pieces:
        if alpha:
            # J += (alpha/2) ||W||^2
            squares = float(np.vdot(W, W)) if isinstance(W, np.ndarray) else rows.scalar(xp.sum(W * W))
            decay = decay + 0.5 * alpha * squares
    compiled = compiled_kernels()
    dtype = getattr(pieces[0][0], "dtype", None)
    if compiled is not None and all(isinstance(g, np.ndarray) and g.dtype == dtype for g, *_ in pieces):
        out = np.empty(sum(g.size for g, *_ in pieces), dtype=dtype)
        lo = 0
        for g, scale, W, alpha in pieces:
            hi = lo + g.size
            if alpha or scale != 1:
                decayed = W.reshape(-1) if alpha else None
                if not compiled.scaled_plus(out[lo:hi], g.reshape(-1), scale, decayed, alpha):  # grad W += alpha W
                    break
            else:
                out[lo:hi] = g.reshape(-1)
            lo = hi
        else:
            return out, decay
    parts = []
    for g, scale, W, alpha in pieces:
        if scale != 1:
            g = g * scale
        if alpha:
            g = g + alpha * W  # grad W += alpha W
        parts.append(g)
    return flatten(parts), decay


# ------------------------------------------------------------------ autoencoders
@dataclass(frozen=True)
class AutoencoderSpec:
    """Static options of one autoencoder (picklable, for the workers of a cluster)."""

    n: int
    h: int
    tied: bool = False
    activation: str = "sigmoid"
    output_activation: str = "sigmoid"
    loss: str = "squared"
    sparsity_target: float = 0.1
    sparsity_weight: float = 0.0
    contraction: float = 0.0
    #: denoising: the kind and level of the noise and its seed (the input of every block
    #: is corrupted by :meth:`Kernels.corrupted`, the clean rows its target)
    noise: str | None = None
    noise_level: float = 0.0
    noise_seed: int = 0

    @property
    def n_params(self) -> int:
        return autoencoder_layout(self.n, self.h, self.tied)[0]

    @property
    def widths(self) -> tuple:
        """The widths of the arrays a block computes besides its rows (to size blocks)."""
        return (self.h,)

    def unpack(self, theta):
        return autoencoder_layout(self.n, self.h, self.tied)[1](theta)


def autoencoder_spec(
    n, h, *, tied, activation, output_activation, loss, sparsity_target, sparsity_weight, contraction
) -> AutoencoderSpec:
    """Check the autoencoder options and bundle them; the messages name the parameters."""
    check_activation("activation", activation, HIDDEN_ACTIVATIONS)
    check_activation("output_activation", output_activation, OUTPUT_ACTIVATIONS)
    check_activation("loss", loss, LOSSES)
    if loss == "cross_entropy" and output_activation != "sigmoid":
        raise ValueError(
            "loss='cross_entropy' needs output_activation='sigmoid' (outputs in (0, 1)), "
            f"got output_activation={output_activation!r}."
        )
    sparsity_weight, contraction = float(sparsity_weight), float(contraction)
    if sparsity_weight != 0.0 and activation != "sigmoid":
        raise ValueError(
            f"'sparsity_weight' must be 0 with activation={activation!r}: the KL sparsity penalty needs mean "
            f"activations in (0, 1), which only sigmoid units have; got sparsity_weight={sparsity_weight!r}."
        )
    if not 0.0 < float(sparsity_target) < 1.0:
        raise ValueError(f"'sparsity_target' must be a number in (0.0, 1.0), got {sparsity_target!r}.")
    if contraction < 0 or not math.isfinite(contraction):
        raise ValueError(f"'contraction' must be a number >= 0.0, got {contraction!r}.")
    return AutoencoderSpec(
        int(n),
        int(h),
        bool(tied),
        activation,
        output_activation,
        loss,
        float(sparsity_target),
        sparsity_weight,
        contraction,
    )


def _block_input(k, block, spec: AutoencoderSpec):
    """``(X, T)``: a block's input and its reconstruction target. A denoising
    autoencoder's input is the block's rows corrupted (the same noise on every pass and
    evaluation of one seed), its target the clean rows."""
    T = block.X if block.T is None else block.T
    if spec.noise is None or spec.noise_level == 0:
        return block.X, T
    return k.corrupted(block.X, spec.noise, spec.noise_level, spec.noise_seed, block.start), T


def _encode_block(k, block, theta, spec: AutoencoderSpec):
    """Pass 1: hidden activations ``H = f(X W1 + b1)`` (kept, with the corrupted input of
    a denoising autoencoder) and their column sums."""
    W1, _, b1, _ = spec.unpack(theta)
    X, _ = _block_input(k, block, spec)
    H = k.activate_affine(spec.activation, X, W1, b1)  # (b, n) @ (n, h) -> (b, h)
    sums = [k.sum_rows(H) if block.w is None else k.sum_rows(block.w[:, None] * H)]
    # a denoising block keeps its corrupted rows too: the noise is drawn once an evaluation
    return 0.0, sums, (H, X) if X is not block.X else H


def _autoencoder_block(k, block, theta, spec: AutoencoderSpec, inv_m, sparsity_delta, column_norms):
    """Pass 2: reconstruction, output and hidden deltas, gradient pieces.

    ``sparsity_delta``: :math:`\\frac{\\beta}{m}(-\\rho/\\hat\\rho + (1-\\rho)/(1-\\hat\\rho))`
    or None; ``column_norms``: :math:`w_j = \\sum_i W1_{ij}^2` when contracting, else None.
    """
    W1, W2, b1, b2 = spec.unpack(theta)
    H = block.kept
    if isinstance(H, tuple):  # pass 1 kept the corrupted rows
        (H, X), T = H, (block.X if block.T is None else block.T)
    else:
        X, T = _block_input(k, block, spec)
    if H is None:
        H = k.activate_affine(spec.activation, X, W1, b1, "H")  # (b, n) @ (n, h) -> (b, h)
    # the reconstruction's loss, delta_3 = (Xhat - T) * g'(z_3) (times 1/m below; the
    # cross-entropy's is Xhat - T) and grad b2 = column sums of delta_3
    # (each row's times its weight, with weights)
    cost, D3, gb2 = output_delta(k, spec.output_activation, spec.loss, H, W2, b2, T, "Xhat", block.w)  # (b, h) @ (h, n)
    if spec.tied:
        # delta_3 / m now (a (b, n) pass), so that delta_2 comes out scaled and the
        # decoder's share of grad W1 joins the encoder's in one product below
        D3 *= inv_m
        scale = None
    else:
        # grad W2 = H^T delta_3 (times 1/m later)
        gW2 = k.matmul(H.T, D3, "gW2")  # (h, b) @ (b, n) -> (h, n)
        scale = inv_m
    # delta_2 = (delta_3 W2^T / m + (beta/m)(-rho/rho_hat + (1-rho)/(1-rho_hat))) * f'(z_2)
    D2 = k.matmul(D3, W2.T, "D2")  # (b, n) @ (n, h) -> (b, h)
    parts = []
    w_col = None if block.w is None else block.w[:, None]
    if column_norms is None and w_col is None:
        D2, gb1 = k.hidden_delta(spec.activation, D2, H, scale, sparsity_delta)
    else:
        if scale is not None:
            D2 *= scale
        if sparsity_delta is not None:
            # weighted rows: rho_hat is their weighted mean, so row i's share is w_i times
            D2 += sparsity_delta if w_col is None else w_col * sparsity_delta
        F2 = k.derivative(spec.activation, H, "F2")
        D2 *= F2
        if column_norms is not None:
            # contraction (c/m) sum_i sum_j f'(z_ij)^2 w_j: its share of delta_2 is
            # (c/m) w_j 2 f'(z_ij) f''(z_ij); its cost and its share of grad W1 (through w)
            # need only the column sums of f'^2, added up by the caller (each row's times
            # its weight, with weights)
            parts.append(k.sum_rows(F2 * F2) if w_col is None else k.sum_rows(w_col * F2 * F2))
            contraction = (2.0 * spec.contraction * inv_m) * column_norms * F2 * k.second_derivative(spec.activation, H)
            D2 += contraction if w_col is None else w_col * contraction
        gb1 = k.sum_rows(D2)
    # grad W1 = X^T delta_2 ; grad b1 = column sums of delta_2
    if spec.tied:
        # W2 = W1^T: grad W1 = X^T delta_2 + (H^T delta_3 / m)^T = X^T delta_2 + delta_3^T H
        gW1 = k.crossprod_sum([(X, D2), (D3, H)], "gW1")  # (n, 2b) @ (2b, h) -> (n, h)
        return cost, [gW1, gb1, gb2, *parts], None
    gW1 = k.matmul(X.T, D2, "gW1")  # (n, b) @ (b, h) -> (n, h)
    return cost, [gW1, gW2, gb1, gb2, *parts], None


def _reconstruction_block(k, block, theta, spec: AutoencoderSpec):
    """Forward only: the reconstruction loss of a block (for validation scores)."""
    W1, W2, b1, b2 = spec.unpack(theta)
    X, T = _block_input(k, block, spec)
    H = k.activate_affine(spec.activation, X, W1, b1, "H")  # (b, n) @ (n, h) -> (b, h)
    if spec.loss == "cross_entropy":
        Zout = k.affine(H, W2, b2, "Xhat")  # (b, h) @ (h, n) -> (b, n)
        return k.total(k.xp.logaddexp(Zout, 0.0) - T * Zout), [], None
    D = k.activate_affine(spec.output_activation, H, W2, b2, "Xhat")  # (b, h) @ (h, n) -> (b, n)
    D -= T
    return 0.5 * k.dot(D, D), [], None


def reconstruction_loss(rows, theta, spec: AutoencoderSpec):
    """Mean reconstruction loss per sample over ``rows`` (no penalties), as a float."""
    cost, _, _ = rows.map_sum(_reconstruction_block, (theta, spec))
    return float(cost) / rows.n_samples


def autoencoder_cost_grad(rows, theta, spec: AutoencoderSpec, alpha: float):
    """Cost (a float, or a 0-d array on a device) and gradient (in ``rows``' namespace)
    of an autoencoder over ``rows``, ``theta`` already in the compute namespace and dtype."""
    xp = rows.xp
    inv_m = 1.0 / rows.weight_total  # 1/m, or one over the rows' weights' sum
    W1, W2, b1, b2 = spec.unpack(theta)
    sparse = spec.sparsity_weight != 0.0
    kept, sparsity_delta, kl = None, None, 0.0
    if sparse:
        # pass 1: rho_hat = mean activation of each hidden unit over all samples
        _, (h_sum,), kept = rows.map_sum(_encode_block, (theta, spec), keep=True)
        eps = float(np.finfo(numpy_dtype(h_sum.dtype)).eps)
        rho_hat = xp.clip(h_sum * inv_m, eps, 1.0 - eps)
        rho, beta = spec.sparsity_target, spec.sparsity_weight
        sparsity_delta = (beta * inv_m) * (-rho / rho_hat + (1.0 - rho) / (1.0 - rho_hat))
        kl = beta * xp.sum(_kl_divergence(xp, rho, rho_hat))  # computed once, not per block
    column_norms = xp.sum(W1 * W1, axis=0) if spec.contraction else None
    # parts: not changed in place below, and packed into a new vector at the end
    data_cost, parts, _ = rows.map_sum(
        _autoencoder_block, (theta, spec, inv_m, sparsity_delta, column_norms), kept=kept, copy=False
    )
    # tied: grad W1 already holds the decoder's share, scaled (see _autoencoder_block)
    gW1, gW2, gb1, gb2 = (parts[0], None, *parts[1:3]) if spec.tied else parts[:4]
    extra = parts[3:] if spec.tied else parts[4:]
    cost = data_cost * inv_m + rows.scalar(kl)
    if spec.contraction:
        # J += (c/m) sum_j (sum_i f'(z_ij)^2) w_j ; its gradient through w_j = sum_k W1_kj^2
        cost = cost + rows.scalar(spec.contraction * inv_m * xp.sum(extra[0] * column_norms))
        gW1 = gW1 + (2.0 * spec.contraction * inv_m) * W1 * extra[0]
    # weight decay: J += (alpha/2) sum ||W||^2 ; grad W += alpha W (tied: the one W1;
    # grad W2 and grad b2 are times 1/m here)
    if spec.tied:
        gradient, decay = _gradient(rows, [(gW1, 1, W1, alpha), (gb1, 1, None, 0), (gb2, inv_m, None, 0)])
    else:
        pieces = [(gW1, 1, W1, alpha), (gW2, inv_m, W2, alpha), (gb1, 1, None, 0), (gb2, inv_m, None, 0)]
        gradient, decay = _gradient(rows, pieces)
    return cost + decay, gradient


def sparse_autoencoder_cost(
    theta,
    X,
    n_hidden: int,
    *,
    alpha: float,
    sparsity_target: float,
    sparsity_weight: float,
    target=None,
    tied: bool = False,
    activation: str = "sigmoid",
    output_activation: str = "sigmoid",
    loss: str = "squared",
    contraction: float = 0.0,
    sample_weight=None,
):
    r"""Cost and gradient of an autoencoder: sparse (UFLDL), denoising, tied, contractive.

    With ``H = f(X W1 + b1)`` of shape ``(m, h)``, ``Xhat = g(H W2 + b2)`` of shape
    ``(m, n)``, the target ``T`` (``X`` by default) and :math:`\hat\rho = \frac1m \sum_i H_i`:

    .. math::

        J = \frac{1}{m} \sum_i L(\hat X_i, T_i) + \frac{\alpha}{2}(\|W_1\|^2 + \|W_2\|^2)
            + \beta \sum_j KL(\rho \| \hat\rho_j)
            + \frac{c}{m} \sum_i \|\partial H_i / \partial X_i\|_F^2

    with :math:`L = \frac12\|\hat x - t\|^2` (``loss="squared"``) or
    :math:`L = -\sum_j t_j \log \hat x_j + (1 - t_j)\log(1 - \hat x_j)`
    (``loss="cross_entropy"``), and the contraction
    :math:`\|\partial h / \partial x\|_F^2 = \sum_j f'(z_j)^2 \sum_i W1_{ij}^2`.

    Parameters
    ----------
    theta : array of shape (2*n*h + h + n,), or (n*h + h + n,) when ``tied``
        ``[W1 (n, h), W2 (h, n), b1 (h,), b2 (n,)]``, or ``[W1, b1, b2]`` with
        ``W2 = W1^T`` when ``tied``.
    X : array-like of shape (n_samples, n_features)
        The input (for a denoising autoencoder, the corrupted input).
    n_hidden : int
        ``h``.
    alpha : float
        Weight decay :math:`\lambda` on the weights (a tied ``W1`` once).
    sparsity_target : float
        :math:`\rho` in (0, 1).
    sparsity_weight : float
        :math:`\beta`; must be 0 unless ``activation="sigmoid"`` (the KL penalty needs
        mean activations in (0, 1)).
    target : array of the shape of ``X``, optional
        What is reconstructed (default ``X``): the clean input of a denoising
        autoencoder.
    tied : bool, default False
    activation : {"sigmoid", "tanh", "relu"}
        Hidden units ``f``.
    output_activation : {"sigmoid", "linear"}
        Reconstruction units ``g``.
    loss : {"squared", "cross_entropy"}
        ``"cross_entropy"`` needs sigmoid outputs and targets in [0, 1].
    contraction : float, default 0
        Weight ``c`` of the contractive penalty (Rifai et al., 2011).
    sample_weight : array of shape (n_samples,), optional
        Row weights: every mean over samples (the data term, :math:`\hat\rho`, the
        contraction) becomes the weighted mean :math:`\sum_i w_i (\cdot)_i / \sum_i w_i`,
        so that integer weights equal repeated rows.

    Returns
    -------
    cost : float
    grad : array, same shape, dtype, namespace and device as ``theta``
    """
    X = _check_X(X)
    T = _check_target(target, X)
    n = X.shape[1]
    spec = autoencoder_spec(
        n,
        int(n_hidden),
        tied=tied,
        activation=activation,
        output_activation=output_activation,
        loss=loss,
        sparsity_target=sparsity_target,
        sparsity_weight=sparsity_weight,
        contraction=contraction,
    )
    sizes_text = f"a tied {n}-{spec.h}-{n} autoencoder" if tied else f"layer sizes {(n, spec.h, n)}"
    theta_in = _check_theta(theta, spec.n_params, sizes_text, X)
    rows = rows_of(X, None, T, widths=(spec.h,), w=check_sample_weight(sample_weight, X))
    cost, grad = autoencoder_cost_grad(rows, rows.asarray(theta_in), spec, float(alpha))
    return _finish(cost, grad, theta_in, rows)


# ------------------------------------------------------------------------------ stack
@dataclass(frozen=True)
class StackSpec:
    """Static options of a stack: layer sizes ``(n_0, ..., n_L, k)``, hidden units,
    drop probabilities ``(input, hidden 1..L)``, the seed of the dropout masks,
    adversarial training's perturbation size and the weight of its term, and the output
    head (:mod:`stackae.heads`: the softmax by default)."""

    sizes: tuple
    activation: str = "sigmoid"
    dropout: tuple = ()
    seed: int = 0
    adversarial: float = 0.0
    adversarial_weight: float = 0.5
    head: Head = SOFTMAX

    def unpack(self, theta):
        return unpack(theta, self.sizes)

    @property
    def widths(self) -> tuple:
        return tuple(self.sizes[1:-1])


def _stack_block(k, block, theta, spec: StackSpec, inv_m, input_delta=False, tag=""):
    """Forward through the hidden layers and the head (the softmax), then backpropagation.

    The gradient comes out times ``m * inv_m`` (it is linear in the softmax's delta).
    ``input_delta``: also return ``delta_0 = delta_1 W_1^T``, the gradient with respect
    to the network's input ``A_0`` (same scale), as the third item (a scratch buffer,
    valid until this thread's next block). ``tag``: a prefix for the scratch buffers of
    the weights' gradients, so that a second call leaves the first one's intact."""
    weights, biases = spec.unpack(theta)
    n_hidden_layers = len(spec.sizes) - 2
    X = block.X
    dropout = spec.dropout or (0.0,) * (n_hidden_layers + 1)
    # Forward: A_0 = X ; A_l = f(A_{l-1} W_l + b_l), each times its dropout mask
    A = [X if dropout[0] == 0 else k.dropped(X, spec.seed, 0, block.start, dropout[0])]
    memos = [None]  # a dropped-out layer's mask and f'(z_l), for its delta
    for layer in range(1, n_hidden_layers + 1):
        Al = k.activate_affine(spec.activation, A[-1], weights[layer - 1], biases[layer - 1], f"A{layer}")
        # (b, n_{l-1}) @ (n_{l-1}, n_l) -> (b, n_l)
        memo = None
        if dropout[layer]:
            Al, memo = k.dropout(spec.activation, Al, spec.seed, layer, block.start, dropout[layer], f"F{layer}")
        A.append(Al)
        memos.append(memo)
    # the head: its data cost and delta_S (times 1/m), e.g. softmax: delta_S = (P - Y) / m
    cost, D, gb = spec.head.block_delta(k, A[-1], weights[-1], biases[-1], block, inv_m)
    grads_W, grads_b = [None] * (n_hidden_layers + 1), [None] * (n_hidden_layers + 1)
    # grad Theta = A_L^T delta_S ; grad c = column sums of delta_S
    grads_W[-1] = k.matmul(A[-1].T, D, f"{tag}gTheta")  # (n_L, b) @ (b, k) -> (n_L, k)
    grads_b[-1] = gb
    for layer in range(n_hidden_layers, 0, -1):
        # delta_l = (delta_{l+1} W_{l+1}^T) * mask_l * f'(z_l)
        G = k.matmul(D, weights[layer].T, f"D{layer}")  # (b, n_{l+1}) @ (n_{l+1}, n_l) -> (b, n_l)
        # grad b_l = column sums of delta_l
        if memos[layer] is not None:
            G, grads_b[layer - 1] = k.dropout_delta(spec.activation, G, A[layer], memos[layer])
        else:
            G, grads_b[layer - 1] = k.hidden_delta(spec.activation, G, A[layer])
        # grad W_l = A_{l-1}^T delta_l
        grads_W[layer - 1] = k.matmul(A[layer - 1].T, G, f"{tag}gW{layer}")  # (n_{l-1}, b) @ (b, n_l)
        D = G
    if input_delta:
        return cost, grads_W + grads_b, k.matmul(D, weights[0].T, "D0")  # (b, n_1) @ (n_1, n_0)
    return cost, grads_W + grads_b, None


def _adversarial_stack_block(k, block, theta, spec: StackSpec, inv_m):
    r"""A block of :math:`(1-w) J(X) + w J(X + \epsilon\,\mathrm{sign}(\nabla_{A_0} J))`
    (Goodfellow et al. 2015, the fast gradient sign method), the perturbation held
    constant: two passes, the second on the perturbed rows with the same dropout masks.

    The sign is taken of the gradient with respect to ``A_0``, the input after its
    dropout mask: where an input is dropped the two differ (``0`` against ``+-1``), but
    the second pass drops the same inputs, so the cost and the gradient are those of
    the gradient with respect to ``X``.
    """
    xp, w = k.xp, spec.adversarial_weight
    clean = 1.0 - w
    # each pass's gradient comes out already weighted (its delta is scaled), and the
    # second pass keeps its gradients in buffers of its own: no copy, one sum
    cost, parts, D0 = _stack_block(k, block, theta, spec, inv_m * (clean or 1.0), input_delta=True)
    X_adv = block.X + spec.adversarial * xp.sign(D0)  # a new array: D0 is a scratch buffer
    # the perturbed rows keep the clean ones as their targets (a reconstruction head's)
    perturbed = block._replace(X=X_adv, T=block.X if block.T is None else block.T)
    cost_adv, parts_adv, _ = _stack_block(k, perturbed, theta, spec, inv_m * w, tag="adversarial-")
    if not clean:  # w = 1: the clean pass only finds the perturbation
        return cost_adv, parts_adv, None
    for p, q in zip(parts, parts_adv):
        p += q
    return clean * cost + w * cost_adv, parts, None


def stack_cost_grad(rows, theta, spec: StackSpec, alpha: float, decayed: Sequence[int]):
    """Cost and gradient of a stack over ``rows`` (see :func:`autoencoder_cost_grad`)."""
    inv_m = 1.0 / rows.weight_total  # 1/m, or one over the rows' weights' sum
    # parts: not changed in place below, and packed into a new vector at the end
    block_fn = _adversarial_stack_block if spec.adversarial else _stack_block
    data_cost, parts, _ = rows.map_sum(block_fn, (theta, spec, inv_m), copy=False)
    n_layers = len(spec.sizes) - 1
    weights, _ = spec.unpack(theta)
    # J += (alpha/2) ||W||^2 ; grad W += alpha W, for the decayed layers
    pieces = [(g, 1, W, alpha if index in decayed else 0) for index, (g, W) in enumerate(zip(parts, weights))]
    gradient, decay = _gradient(rows, pieces + [(g, 1, None, 0) for g in parts[n_layers:]])
    return data_cost * inv_m + decay, gradient


def check_adversarial(adversarial, adversarial_weight) -> tuple[float, float]:
    """``(epsilon, weight)`` of adversarial training, checked."""
    ok = isinstance(adversarial, numbers.Real) and not isinstance(adversarial, bool)
    if not ok or not 0.0 <= adversarial < float("inf"):
        raise ValueError(f"'adversarial' must be a finite number >= 0, got {adversarial!r}.")
    ok = isinstance(adversarial_weight, numbers.Real) and not isinstance(adversarial_weight, bool)
    if not ok or not 0.0 < adversarial_weight <= 1.0:
        raise ValueError(f"'adversarial_weight' must be a number in (0, 1], got {adversarial_weight!r}.")
    return float(adversarial), float(adversarial_weight)


def _check_head_targets(y, X, n_outputs: int, head: Head):
    """The targets a head trains on: class indices for the softmax, a float matrix of
    shape ``(m, n_outputs)`` in ``X``'s library and dtype for a regression, nothing for
    a reconstruction (its target is ``X``)."""
    if isinstance(head, SoftmaxHead):
        return _check_labels(y, X.shape[0], n_outputs, X)
    if not head.uses_y:
        if y is not None:
            raise ValueError("'y' must be None for a head that reconstructs its input (its target is X).")
        if n_outputs != X.shape[1]:
            raise ValueError(f"A reconstruction has one output per feature of X ({X.shape[1]}), got {n_outputs}.")
        return None
    T = y if _xp.is_array(y) and not _xp.is_numpy(y) else np.asarray(y, dtype=np.float64)
    if T is None or T.ndim not in (1, 2):
        raise ValueError(f"'y' must be a float array of shape ({X.shape[0]}, {n_outputs}), got {y!r:.60}.")
    T = _check_X(T[:, None] if T.ndim == 1 else T, "y")
    if tuple(T.shape) != (X.shape[0], n_outputs):
        raise ValueError(f"'y' must have shape ({X.shape[0]}, {n_outputs}), got {tuple(T.shape)}.")
    if _xp.library(T) != _xp.library(X) and not (_xp.is_dask(X) or _xp.is_zarr(X)):
        raise ValueError(f"'y' must be an array like 'X' ({_xp.describe(X)}), got {_xp.describe(T)}.")
    if T.dtype != X.dtype:
        T = T.astype(X.dtype) if _xp.is_numpy(T) else _xp.namespace(T).astype(T, X.dtype)
    return T


def _stack(
    theta,
    X,
    y,
    hidden,
    n_classes,
    alpha,
    decayed,
    activation,
    dropout,
    dropout_seed,
    adversarial=(0.0, 0.5),
    head=None,
    sample_weight=None,
):
    X = _check_X(X)
    sizes = (X.shape[1], *hidden, int(n_classes))
    check_activation("activation", activation, HIDDEN_ACTIVATIONS)
    dropout = dropout_rates(dropout, len(hidden))
    epsilon, weight = check_adversarial(*adversarial)
    head = SOFTMAX if head is None else head
    if not isinstance(head, Head):
        raise ValueError(f"'head' must be an output head of stackae.heads, got {head!r}.")
    spec = StackSpec(sizes, activation, dropout if any(dropout) else (), int(dropout_seed), epsilon, weight, head)
    theta_in = _check_theta(theta, n_params(sizes), f"layer sizes {sizes}", X)
    y = _check_head_targets(y, X, sizes[-1], head)
    rows = rows_of(X, y, widths=hidden, w=check_sample_weight(sample_weight, X))
    cost, grad = stack_cost_grad(rows, rows.asarray(theta_in), spec, float(alpha), decayed)
    return _finish(cost, grad, theta_in, rows)


def softmax_cost(theta, X, y, n_classes: int, *, alpha: float, sample_weight=None):
    r"""Cost and gradient of softmax regression.

    With scores ``S = X Theta + c`` of shape ``(m, k)`` and ``P = softmax(S)`` row-wise:

    .. math::

        J = -\frac1m \sum_i \log P_{i, y_i} + \frac{\alpha}{2}\|\Theta\|^2, \qquad
        \nabla_\Theta J = X^T (P - Y)/m + \alpha\Theta, \quad
        \nabla_c J = \textstyle\sum_i (P - Y)_i / m

    Parameters
    ----------
    theta : array of shape (n*k + k,)
        ``[Theta (n, k), c (k,)]``.
    X : array-like of shape (n_samples, n_features)
    y : array-like of int of shape (n_samples,)
        Class indices in ``0..n_classes-1``.
    n_classes : int
    alpha : float
        Weight decay :math:`\lambda` on ``Theta`` (not on ``c``).
    """
    return _stack(theta, X, y, (), n_classes, alpha, (0,), "sigmoid", 0.0, 0, sample_weight=sample_weight)


def stack_cost(
    theta,
    X,
    y,
    hidden_layer_sizes: Sequence[int],
    n_classes: int,
    *,
    alpha: float,
    decay: str = "softmax",
    activation: str = "sigmoid",
    dropout=0.0,
    dropout_seed: int = 0,
    adversarial: float = 0.0,
    adversarial_weight: float = 0.5,
    head=None,
    sample_weight=None,
):
    r"""Cost and gradient of the whole stack (hidden layers + softmax), for fine-tuning.

    .. math::

        A_0 = X \odot M_0,\quad A_l = f(A_{l-1}W_l + b_l) \odot M_l,\quad
        P = \mathrm{softmax}(A_L\Theta + c)

        J = -\frac1m \sum_i \log P_{i,y_i} + \frac{\alpha}{2}\|\Theta\|^2
            \;\left(+ \frac{\alpha}{2}\sum_l \|W_l\|^2 \text{ when decay='all'}\right)

    Backpropagation, row-major: ``delta_S = (P - Y)/m``,
    ``delta_L = (delta_S Theta^T) * M_L * f'(Z_L)``,
    ``delta_l = (delta_{l+1} W_{l+1}^T) * M_l * f'(Z_l)``,
    ``grad W_l = A_{l-1}^T delta_l``, ``grad b_l`` = column sums of ``delta_l``.
    The dropout masks ``M_l`` are inverted (``1/(1-p)`` where kept, 0 where dropped; 1
    without dropout), so the network is used as it is at prediction time.

    Parameters
    ----------
    theta : array
        ``[W1, ..., WL, Theta, b1, ..., bL, c]``.
    X : array-like of shape (n_samples, n_features)
    y : array-like of int of shape (n_samples,)
    hidden_layer_sizes : sequence of int
        ``(n_1, ..., n_L)``; may be empty (plain softmax regression).
    n_classes : int
    alpha : float
        Weight decay :math:`\lambda`.
    decay : {"softmax", "all"}
        ``"softmax"`` (UFLDL's choice) decays ``Theta`` only; ``"all"`` decays every
        weight matrix. Biases are never decayed.
    activation : {"sigmoid", "tanh", "relu"}
        Units of the hidden layers.
    dropout : float or sequence of float, default 0
        Drop probability of every hidden layer, or ``(input, hidden 1, ..., hidden L)``.
    dropout_seed : int
        The masks are a function of ``(dropout_seed, layer, row index)`` only: the same
        seed gives the same masks (so the gradient can be checked), whatever the split
        of the rows into blocks.
    adversarial : float, default 0
        :math:`\epsilon > 0`: adversarial training (Goodfellow et al. 2015, the fast
        gradient sign method). The data term becomes
        :math:`(1-w)\,J(X) + w\,J(X + \epsilon\,\mathrm{sign}(\nabla_X J(X)))`, each
        with the same dropout masks, the perturbation held constant (its sign is
        piecewise constant in ``theta``, so this is the gradient almost everywhere).
        The perturbed rows are not clipped to the data's range. An evaluation makes
        two passes and the input's delta (the recipes' results page times it).
    adversarial_weight : float in (0, 1], default 0.5
        :math:`w`, the weight of the perturbed rows' term.
    head : a head of :mod:`stackae.heads`, default the softmax
        The output and its loss in place of the softmax's cross-entropy: with
        ``SquaredErrorHead()`` the data term is :math:`\frac1{2m}\sum_i\|g(S_i) - y_i\|^2`
        and ``y`` a float array of shape ``(n_samples, n_classes)`` (or
        ``(n_samples,)`` for one output); with a head whose target is the input
        (:func:`stackae.heads.reconstruction_head`) ``y`` is None and ``n_classes`` is
        ``n_features``: an unrolled deep autoencoder.
    sample_weight : array of shape (n_samples,), optional
        Row weights: the data term is the weighted mean of the rows' costs (see
        :func:`sparse_autoencoder_cost`).
    """
    if decay not in ("softmax", "all"):
        raise choice_error("decay", decay, ("softmax", "all"))
    hidden = tuple(int(s) for s in hidden_layer_sizes)
    decayed = range(len(hidden) + 1) if decay == "all" else (len(hidden),)
    return _stack(
        theta,
        X,
        y,
        hidden,
        n_classes,
        alpha,
        decayed,
        activation,
        dropout,
        dropout_seed,
        (adversarial, adversarial_weight),
        head,
        sample_weight,
    )


# -------------------------------------------------------------------- inference
def feedforward(X, weights, biases, activation: str = "sigmoid"):
    """Activations of each layer in turn: ``A_l = f(A_{l-1} W_l + b_l)``, in ``X``'s
    namespace (the weights are brought there). Returns the last layer's activations,
    shape ``(n_samples, n_L)``."""

    if _xp.is_sparse(X):  # a block of rows made dense at a time
        step = SPARSE_BLOCK_ROWS
        return np.concatenate(
            [
                feedforward(dense_rows(X, lo, lo + step), weights, biases, activation)
                for lo in range(0, X.shape[0], step)
            ]
        )
    k: Kernels
    if _xp.is_numpy(X):
        k = new_kernels()
    else:
        k = Kernels(_xp.namespace(X), _xp.device_of(X))
        weights = [k.xp.asarray(W, device=k.device) for W in weights]
        biases = [k.xp.asarray(b, device=k.device) for b in biases]
    A = X
    for W, b in zip(weights, biases):
        A = k.activate_affine(activation, A, W, b)  # (m, n_{l-1}) @ (n_{l-1}, n_l) -> (m, n_l)
    return A


def softmax_probabilities(S):
    """Row-wise softmax of scores ``S`` of shape ``(m, k)``, in overflow-free form:
    ``exp(S - max S) / sum exp(S - max S)`` (the softmax head's outputs)."""
    return SOFTMAX.outputs(S)


def stack_probe(dtype):
    """What the block-size tuner times (:func:`stackae._rows._tuning.set_probe`): the stack
    objective's evaluation on 8192 random rows of a 784-200-200-10 network, as
    ``at(rows)`` -> a callable running it on blocks of ``rows`` rows."""
    sizes = (784, 200, 200, 10)
    rng = np.random.default_rng(0)
    X = rng.random((8192, sizes[0]), dtype=dtype)
    y = rng.integers(0, sizes[-1], X.shape[0])
    theta = init_theta(sizes, np.random.RandomState(0)).astype(dtype)
    spec = StackSpec(sizes)

    def at(rows):
        engine = NumpyRows(X, y, block_rows=rows)
        return lambda: stack_cost_grad(engine, theta, spec, 1e-4, (len(sizes) - 2,))

    return at


_tuning.set_probe(stack_probe)
