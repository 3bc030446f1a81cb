r"""Cost-and-gradient functions: sparse autoencoder, softmax regression, whole stack.

Conventions, the same everywhere in stackae:

* one row per sample: ``X`` has shape ``(m, n_0)``;
* a layer's weights ``W`` have shape ``(n_in, n_out)`` so that ``Z = A @ W + b``;
* ``theta`` is one flat vector, packed as described in :mod:`stackae._params`:
  all weight matrices (C order) in layer order, then all biases in layer order;
* each function returns ``(cost, grad)``: ``cost`` a Python float, ``grad`` an array of
  the same shape and dtype as ``theta``;
* the arithmetic runs in float32 when ``X`` is float32, else in float64 (``theta`` is
  cast to that dtype, which costs one copy of the parameters only).

Every cost is a sum over samples (the sparse autoencoder's after one extra pass for the
mean activation), computed block by block by :func:`stackae._rowblocks.map_reduce_rows`;
the functions below only say what one block of rows contributes, as plain array
operations.

References
----------
UFLDL Tutorial, "Sparse Autoencoder", "Softmax Regression" and "Fine-tuning Stacked
AEs", http://ufldl.stanford.edu/wiki/
"""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np

from ._params import n_params, unpack
from ._rowblocks import Workspace, map_reduce_rows
from .activations import sigmoid, sigmoid_derivative

__all__ = [
    "sparse_autoencoder_cost",
    "softmax_cost",
    "stack_cost",
    "feedforward",
    "softmax_probabilities",
]


# --------------------------------------------------------------------------- helpers
def _compute_dtype(X: np.ndarray):
    return np.float32 if X.dtype == np.float32 else np.float64


def _check_X(X) -> np.ndarray:
    """``X`` as a C-contiguous 2-D array in the compute dtype."""
    X = np.asarray(X)
    if X.ndim != 2:
        raise ValueError(f"'X' must be 2-dimensional (n_samples, n_features), got shape {X.shape}.")
    if X.shape[0] == 0:
        raise ValueError("'X' must hold at least one sample, got 0.")
    return np.ascontiguousarray(X, dtype=_compute_dtype(X))


def _check_theta(theta, layer_sizes, dtype) -> np.ndarray:
    """``theta`` as a contiguous vector in the compute dtype, of the right length."""
    theta = np.asarray(theta)
    expected = n_params(layer_sizes)
    if theta.ndim != 1 or theta.shape[0] != expected:
        raise ValueError(
            f"'theta' must have shape ({expected},) for layer sizes {tuple(layer_sizes)}, got {theta.shape}."
        )
    return np.ascontiguousarray(theta, dtype=dtype)


def _check_labels(y, n_samples: int, n_classes: int) -> np.ndarray:
    y = np.asarray(y)
    if y.shape != (n_samples,):
        raise ValueError(f"'y' must have shape ({n_samples},), got {y.shape}.")
    if not np.issubdtype(y.dtype, np.integer):
        raise ValueError(f"'y' must hold integer class indices, got dtype {y.dtype}.")
    if n_samples and (y.min() < 0 or y.max() >= n_classes):
        raise ValueError(f"'y' must hold class indices in 0..{n_classes - 1}, got values in {y.min()}..{y.max()}.")
    return y.astype(np.intp, copy=False)


def _kl_divergence(rho: float, rho_hat: np.ndarray) -> np.ndarray:
    r""":math:`KL(\rho \| \hat\rho_j) = \rho\log\frac{\rho}{\hat\rho_j}
    + (1-\rho)\log\frac{1-\rho}{1-\hat\rho_j}`, elementwise over hidden units."""
    return rho * np.log(rho / rho_hat) + (1.0 - rho) * np.log((1.0 - rho) / (1.0 - rho_hat))


def _clip_unit_interval(p: np.ndarray) -> np.ndarray:
    """Keep a mean activation strictly inside (0, 1) so the KL term stays finite."""
    eps = np.finfo(p.dtype).eps
    return np.clip(p, eps, 1.0 - eps)


def feedforward(X: np.ndarray, weights: Sequence[np.ndarray], biases: Sequence[np.ndarray]):
    """Sigmoid activations of each layer in turn: ``A_l = f(A_{l-1} W_l + b_l)``.

    Returns the last layer's activations, shape ``(n_samples, n_L)``.
    """
    A = X
    for W, b in zip(weights, biases):
        Z = A @ W  # (m, n_{l-1}) @ (n_{l-1}, n_l) -> (m, n_l)
        Z += b
        A = sigmoid(Z, out=Z)
    return A


def softmax_probabilities(S: np.ndarray) -> np.ndarray:
    """Row-wise softmax of scores ``S`` of shape ``(m, k)``, computed in place-safe,
    overflow-free form: ``exp(S - max S) / sum exp(S - max S)``."""
    P = S - S.max(axis=1, keepdims=True)
    np.exp(P, out=P)
    P /= P.sum(axis=1, keepdims=True)
    return P


# ------------------------------------------------------------------ sparse autoencoder
def sparse_autoencoder_cost(theta, X, n_hidden: int, *, alpha: float, sparsity_target: float, sparsity_weight: float):
    r"""Cost and gradient of a sparse autoencoder with sigmoid hidden and output units.

    With ``H = f(X W1 + b1)`` of shape ``(m, h)``, ``Xhat = f(H W2 + b2)`` of shape
    ``(m, n)`` and :math:`\hat\rho = \frac1m \sum_i H_i`:

    .. math::

        J = \frac{1}{2m}\|\hat X - X\|^2 + \frac{\alpha}{2}(\|W_1\|^2 + \|W_2\|^2)
            + \beta \sum_j KL(\rho \| \hat\rho_j)

    Parameters
    ----------
    theta : ndarray of shape (2*n*h + h + n,)
        ``[W1 (n, h), W2 (h, n), b1 (h,), b2 (n,)]``.
    X : array-like of shape (n_samples, n_features)
    n_hidden : int
        ``h``.
    alpha : float
        Weight decay :math:`\lambda` on ``W1`` and ``W2``.
    sparsity_target : float
        :math:`\rho` in (0, 1).
    sparsity_weight : float
        :math:`\beta`.

    Returns
    -------
    cost : float
    grad : ndarray, same shape and dtype as ``theta``
    """
    theta_in = theta
    X = _check_X(X)
    dtype = X.dtype.type
    n = X.shape[1]
    sizes = (n, int(n_hidden), n)
    theta = _check_theta(theta_in, sizes, dtype)
    m = X.shape[0]
    h = sizes[1]
    rho, beta = float(sparsity_target), float(sparsity_weight)
    (W1, W2), (b1, b2) = unpack(theta, sizes)

    # Pass 1: H = f(X W1 + b1) for all samples, and its column sums for rho_hat.
    H = np.empty((m, h), dtype=dtype)

    def encode_block(rows: slice, acc: np.ndarray, ws: Workspace) -> float:
        Hb = H[rows]
        np.matmul(X[rows], W1, out=Hb)  # (b, n) @ (n, h) -> (b, h)
        Hb += b1
        sigmoid(Hb, out=Hb)
        acc += Hb.sum(axis=0)
        return 0.0

    _, h_sum = map_reduce_rows(encode_block, m, h, dtype)
    rho_hat = _clip_unit_interval(h_sum / dtype(m))
    # the sparsity term's share of delta_2: (beta/m) (-rho/rho_hat + (1-rho)/(1-rho_hat))
    sparsity_delta = ((beta / m) * (-rho / rho_hat + (1.0 - rho) / (1.0 - rho_hat))).astype(dtype)
    scale3 = dtype(-1.0 / m)

    # Pass 2: reconstruction, output deltas, hidden deltas, gradients.
    def backprop_block(rows: slice, acc: np.ndarray, ws: Workspace) -> float:
        (gW1, gW2), (gb1, gb2) = unpack(acc, sizes)
        Xb, Hb = X[rows], H[rows]
        b = Xb.shape[0]
        Xhat = ws.get("Xhat", (b, n), dtype)
        np.matmul(Hb, W2, out=Xhat)  # (b, h) @ (h, n) -> (b, n)
        Xhat += b2
        sigmoid(Xhat, out=Xhat)
        D3 = ws.get("D3", (b, n), dtype)
        np.subtract(Xhat, Xb, out=D3)  # Xhat - X
        cost = 0.5 * float(np.vdot(D3, D3))
        # delta_3 = (Xhat - X) * f'(z_3) / m = (Xhat - X) * Xhat * (Xhat - 1) * (-1/m);
        # the factor -1/m is applied to the (small) products below, not to the block.
        D3 *= Xhat
        Xhat -= 1.0
        D3 *= Xhat
        # grad W2 += H^T delta_3 ; grad b2 += column sums of delta_3 (both times -1/m later)
        tmp_hn = ws.get("tmp_hn", (h, n), dtype)
        gW2 += np.matmul(Hb.T, D3, out=tmp_hn)  # (h, b) @ (b, n) -> (h, n)
        gb2 += D3.sum(axis=0)
        # delta_2 = (delta_3 W2^T + (beta/m)(-rho/rho_hat + (1-rho)/(1-rho_hat))) * f'(z_2)
        D2 = ws.get("D2", (b, h), dtype)
        np.matmul(D3, W2.T, out=D2)  # (b, n) @ (n, h) -> (b, h)
        D2 *= scale3
        D2 += sparsity_delta
        D2 *= sigmoid_derivative(Hb, out=ws.get("fprime", (b, h), dtype))
        # grad W1 += X^T delta_2 ; grad b1 += column sums of delta_2
        tmp_nh = ws.get("tmp_nh", (n, h), dtype)
        gW1 += np.matmul(Xb.T, D2, out=tmp_nh)  # (n, b) @ (b, h) -> (n, h)
        gb1 += D2.sum(axis=0)
        return cost

    recon, grad = map_reduce_rows(backprop_block, m, theta.size, dtype)
    (gW1, gW2), (gb1, gb2) = unpack(grad, sizes)
    gW2 *= scale3
    gb2 *= scale3
    # weight decay: J += (alpha/2) sum ||W||^2 ; grad W += alpha W
    gW1 += alpha * W1
    gW2 += alpha * W2
    cost = (
        recon / m
        + 0.5 * alpha * (float(np.vdot(W1, W1)) + float(np.vdot(W2, W2)))
        + beta * float(np.sum(_kl_divergence(rho, rho_hat.astype(np.float64))))
    )
    return cost, grad.astype(np.asarray(theta_in).dtype, copy=False)


# ------------------------------------------------------------------------------ stack
def _stack_cost(theta, X, y, sizes: tuple[int, ...], alpha: float, decayed: Sequence[int]):
    """Shared backprop for :func:`stack_cost` and :func:`softmax_cost`.

    ``sizes = (n_0, n_1, ..., n_L, k)``; ``decayed`` lists the weight matrices (by
    index into ``weights``) that carry weight decay.
    """
    dtype = X.dtype.type
    m = X.shape[0]
    n_hidden_layers = len(sizes) - 2
    weights, biases = unpack(theta, sizes)
    k = sizes[-1]
    inv_m = dtype(1.0 / m)

    def backprop_block(rows: slice, acc: np.ndarray, ws: Workspace) -> float:
        gweights, gbiases = unpack(acc, sizes)
        yb = y[rows]
        b = yb.shape[0]
        # Forward: A_0 = X ; A_l = f(A_{l-1} W_l + b_l)
        A = [X[rows]]
        for layer in range(n_hidden_layers):
            Z = ws.get(f"A{layer + 1}", (b, sizes[layer + 1]), dtype)
            np.matmul(A[-1], weights[layer], out=Z)  # (b, n_{l-1}) @ (n_{l-1}, n_l) -> (b, n_l)
            Z += biases[layer]
            A.append(sigmoid(Z, out=Z))
        # S = A_L Theta + c ; P = softmax(S) row-wise
        S = ws.get("S", (b, k), dtype)
        np.matmul(A[-1], weights[-1], out=S)  # (b, n_L) @ (n_L, k) -> (b, k)
        S += biases[-1]
        S -= S.max(axis=1, keepdims=True)
        picked = S[np.arange(b), yb]  # S[i, y_i] (shifted)
        np.exp(S, out=S)
        row_sums = S.sum(axis=1)
        # J = -(1/m) sum_i log P[i, y_i] = -(1/m) sum_i (S[i, y_i] - log sum_j exp S[i, j])
        cost = float(np.sum(np.log(row_sums, dtype=np.float64)) - np.sum(picked, dtype=np.float64))
        # delta_S = (P - Y) / m
        D = S
        D /= row_sums[:, None]
        D[np.arange(b), yb] -= 1.0
        D *= inv_m
        # grad Theta += A_L^T delta_S ; grad c += column sums of delta_S
        gweights[-1] += A[-1].T @ D  # (n_L, b) @ (b, k) -> (n_L, k)
        gbiases[-1] += D.sum(axis=0)
        for layer in range(n_hidden_layers - 1, -1, -1):
            # delta_l = (delta_{l+1} W_{l+1}^T) * f'(z_l)
            G = ws.get(f"D{layer + 1}", (b, sizes[layer + 1]), dtype)
            np.matmul(D, weights[layer + 1].T, out=G)  # (b, n_{l+1}) @ (n_{l+1}, n_l) -> (b, n_l)
            G *= sigmoid_derivative(A[layer + 1], out=ws.get("fprime", G.shape, dtype))
            # grad W_l += A_{l-1}^T delta_l ; grad b_l += column sums of delta_l
            tmp = ws.get(f"tmp{layer}", gweights[layer].shape, dtype)
            gweights[layer] += np.matmul(A[layer].T, G, out=tmp)  # (n_{l-1}, b) @ (b, n_l)
            gbiases[layer] += G.sum(axis=0)
            D = G
        return cost

    data_cost, grad = map_reduce_rows(backprop_block, m, theta.size, dtype)
    cost = data_cost / m
    gweights, _ = unpack(grad, sizes)
    for index in decayed:
        W = weights[index]
        # J += (alpha/2) ||W||^2 ; grad W += alpha W
        gweights[index] += alpha * W
        cost += 0.5 * alpha * float(np.vdot(W, W))
    return cost, grad


def softmax_cost(theta, X, y, n_classes: int, *, alpha: float):
    r"""Cost and gradient of softmax regression.

    With scores ``S = X Theta + c`` of shape ``(m, k)`` and ``P = softmax(S)`` row-wise:

    .. math::

        J = -\frac1m \sum_i \log P_{i, y_i} + \frac{\alpha}{2}\|\Theta\|^2, \qquad
        \nabla_\Theta J = X^T (P - Y)/m + \alpha\Theta, \quad
        \nabla_c J = \textstyle\sum_i (P - Y)_i / m

    Parameters
    ----------
    theta : ndarray of shape (n*k + k,)
        ``[Theta (n, k), c (k,)]``.
    X : array-like of shape (n_samples, n_features)
    y : array-like of int of shape (n_samples,)
        Class indices in ``0..n_classes-1``.
    n_classes : int
    alpha : float
        Weight decay :math:`\lambda` on ``Theta`` (not on ``c``).
    """
    X = _check_X(X)
    sizes = (X.shape[1], int(n_classes))
    theta_c = _check_theta(theta, sizes, X.dtype)
    y = _check_labels(y, X.shape[0], sizes[-1])
    cost, grad = _stack_cost(theta_c, X, y, sizes, float(alpha), decayed=(0,))
    return cost, grad.astype(np.asarray(theta).dtype, copy=False)


def stack_cost(
    theta,
    X,
    y,
    hidden_layer_sizes: Sequence[int],
    n_classes: int,
    *,
    alpha: float,
    decay: str = "softmax",
):
    r"""Cost and gradient of the whole stack (sigmoid hidden layers + softmax), for fine-tuning.

    .. math::

        A_0 = X,\quad A_l = f(A_{l-1}W_l + b_l),\quad P = \mathrm{softmax}(A_L\Theta + c)

        J = -\frac1m \sum_i \log P_{i,y_i} + \frac{\alpha}{2}\|\Theta\|^2
            \;\left(+ \frac{\alpha}{2}\sum_l \|W_l\|^2 \text{ when decay='all'}\right)

    Backpropagation, row-major: ``delta_S = (P - Y)/m``,
    ``delta_L = (delta_S Theta^T) * f'(Z_L)``,
    ``delta_l = (delta_{l+1} W_{l+1}^T) * f'(Z_l)``,
    ``grad W_l = A_{l-1}^T delta_l``, ``grad b_l`` = column sums of ``delta_l``.

    Parameters
    ----------
    theta : ndarray
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
    """
    if decay not in ("softmax", "all"):
        raise ValueError(f"'decay' must be 'softmax' or 'all', got {decay!r}.")
    hidden = tuple(int(s) for s in hidden_layer_sizes)
    X = _check_X(X)
    sizes = (X.shape[1], *hidden, int(n_classes))
    theta_c = _check_theta(theta, sizes, X.dtype)
    y = _check_labels(y, X.shape[0], sizes[-1])
    decayed = range(len(hidden) + 1) if decay == "all" else (len(hidden),)
    cost, grad = _stack_cost(theta_c, X, y, sizes, float(alpha), decayed)
    return cost, grad.astype(np.asarray(theta).dtype, copy=False)
