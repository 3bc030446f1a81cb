"""The array operations that block functions use, written against the array API.

A block function (see :mod:`stackae._rows`) does its arithmetic through a
:class:`Kernels` object ``k``: ``k.xp`` for plain array API calls, and a handful of
named operations (``affine``, ``activate``, ``derivative``, ``keep_mask``, ...) that an
engine may implement faster for its library, in its own module: in-place NumPy with
reused buffers (:mod:`stackae._rows._numpy`), fused PyTorch or CuPy kernels
(:mod:`stackae._rows._device`). The versions here are the reference: plain, portable,
allocation-happy.
"""

from __future__ import annotations

from .._random import philox_gaussian, philox_keep_mask
from .._xp import numpy_dtype
from ..activations import ACTIVATIONS
from ..noise import corrupt

__all__ = ["Kernels"]


class Kernels:
    """Portable array operations in namespace ``xp`` on ``device``."""

    def __init__(self, xp, device=None):
        self.xp = xp
        self.device = device

    # ------------------------------------------------------------ products
    def matmul(self, A, B, key=None):
        """``A @ B``; ``key`` names a scratch buffer an engine may reuse."""
        return A @ B

    def crossprod_sum(self, pairs, key=None):
        """``sum(A.T @ B for A, B in pairs)``: each pair holds the same rows, ``A`` of
        shape ``(b_i, n)`` and ``B`` of ``(b_i, h)``; the result is ``(n, h)``."""
        (A, B), *rest = pairs
        out = self.matmul(A.T, B, key)
        for A, B in rest:
            out = out + A.T @ B
        return out

    def affine(self, A, W, b, key=None):
        """``A @ W + b``: (m, n_in) @ (n_in, n_out) + (n_out,) -> (m, n_out)."""
        Z = self.matmul(A, W, key)
        Z += b
        return Z

    # --------------------------------------------------------- activations
    def activate(self, name: str, Z):
        """``f(Z)``; may overwrite ``Z``."""
        return ACTIVATIONS[name].f(Z)

    def derivative(self, name: str, A, key=None):
        """``f'(Z)`` from ``A = f(Z)``, as a new array (``A`` is left as it is)."""
        return ACTIVATIONS[name].derivative(A)

    def times_derivative(self, name: str, G, A, key=None):
        """``G * f'(Z)`` from ``A = f(Z)``, in place in ``G`` unless an engine has a
        better way (``key`` names the buffer of ``f'``)."""
        G *= self.derivative(name, A, key)
        return G

    def second_derivative(self, name: str, A):
        """``f''(Z)`` from ``A = f(Z)``."""
        return ACTIVATIONS[name].second_derivative(A)

    # ------------------------------------------------------ whole layers
    # A layer's element-wise passes named as one operation each, so that an engine can
    # make them in one pass (:mod:`stackae._rows._compiled`); these are the reference.
    def activate_affine(self, name: str, A, W, b, key=None):
        """A layer's activations ``f(A @ W + b)``; ``key`` as for :meth:`matmul`."""
        return self.activate(name, self.affine(A, W, b, key))

    def squared_error_delta(self, name: str, A, W, b, T, key=None):
        """The output layer of a squared-error reconstruction. With ``Z = A @ W + b`` and
        ``Xhat = f(Z)``: returns ``(1/2) ||Xhat - T||^2`` (a float, or a 0-d array on a
        device), ``delta = (Xhat - T) * f'(Z)`` and the column sums of ``delta``."""
        return self._squared_error_delta_of(name, self.affine(A, W, b, key), T)

    def _squared_error_delta_of(self, name: str, Z, T):
        Xhat = self.activate(name, Z)
        F = None if name == "linear" else self.derivative(name, Xhat, "F3")
        D = Xhat
        D -= T  # Xhat - T
        cost = 0.5 * self.dot(D, D)
        if F is not None:
            D *= F
        return cost, D, self.sum_rows(D)

    def softmax_delta(self, S, y, inv_m, w=None):
        """The softmax cross-entropy output layer of scores ``S`` (may be overwritten)
        against class indices ``y``: returns the block's cost :math:`\\sum_i w_i
        (\\log\\sum_j e^{S_{ij}} - S_{i y_i})` (``w`` the rows' weights, all 1 when
        None; a float, or a 0-d array on a device), ``delta = w_i (P - Y) inv_m``
        (``P`` the softmax of each row, ``Y`` the one-hot labels) and its column sums."""
        xp = self.xp
        S -= xp.max(S, axis=1, keepdims=True)
        Y = self.one_hot(y, S.shape[1], S.dtype)
        E = xp.exp(S)
        row_sums = xp.sum(E, axis=1)
        if w is None:
            cost = self.total(xp.log(row_sums)) - self.dot(S, Y)
        else:
            cost = self.total(w * (xp.log(row_sums) - xp.sum(S * Y, axis=1)))
        D = E / row_sums[:, None]
        D -= Y
        D *= inv_m if w is None else w[:, None] * inv_m
        return cost, D, self.sum_rows(D)

    def hidden_delta(self, name: str, G, A, scale=None, shift=None):
        """A hidden layer's delta from the error ``G`` sent back to it, in place:
        ``(G * scale + shift) * f'(Z)`` from ``A = f(Z)`` (``scale`` a number, ``shift`` a
        row vector, each left out when None); returns it and its column sums."""
        if scale is not None:
            G *= scale
        if shift is not None:
            G += shift
        G = self.times_derivative(name, G, A, "hidden-fprime")
        return G, self.sum_rows(G)

    def dropout(self, name: str, A, seed: int, stream: int, start: int, dropout: float, key=None):
        """Inverted dropout on a hidden layer's activations ``A = f(Z)``, in place: ``A``
        times :meth:`keep_mask`. Returns ``A`` and what :meth:`dropout_delta` needs
        (the mask and ``f'(Z)``, taken before the mask; ``key`` names its buffer)."""
        fprime = self.derivative(name, A, key)
        mask = self.keep_mask(seed, stream, start, tuple(A.shape), dropout, A.dtype)
        A *= mask
        return A, (mask, fprime)

    def dropout_delta(self, name: str, G, A, memo):
        """A dropped-out hidden layer's delta from the error ``G`` sent back to it, in
        place: ``G * mask * f'(Z)`` (``A`` the masked activations, ``memo`` from
        :meth:`dropout`); returns it and its column sums."""
        mask, fprime = memo
        G *= mask
        G *= fprime
        return G, self.sum_rows(G)

    def corrupted(self, X, kind: str, level: float, seed: int, start: int):
        """A corrupted copy of a block's input rows (a denoising autoencoder's, see
        :mod:`stackae.noise`): on NumPy rows each row's noise is a function of
        ``(seed, start + i)`` only, as a dropout mask is, so the noise does not depend on
        how the rows are split into blocks, chunks or batches; a device draws it with its
        own generator seeded by ``seed``."""

        return corrupt(X, kind, level, seed, start=start)

    def dropped(self, X, seed: int, stream: int, start: int, dropout: float):
        """A new array: ``X`` times its :meth:`keep_mask` (dropout on the input)."""
        return X * self.keep_mask(seed, stream, start, tuple(X.shape), dropout, X.dtype)

    # ---------------------------------------------------------- reductions
    def sum_rows(self, A):
        """Column sums: the sum over samples, shape ``(A.shape[1],)``."""
        return self.xp.sum(A, axis=0)

    def dot(self, A, B):
        """``sum(A * B)`` as a 0-d array (left on the device)."""
        return self.xp.sum(A * B)

    def total(self, a):
        """The sum of all of ``a`` as a 0-d array, accumulated in float64 where that is cheap."""
        return self.xp.sum(a)

    # ------------------------------------------------------------- samples
    def one_hot(self, y, n_classes: int, dtype):
        """``Y[i, j] = 1`` where ``y[i] == j``, shape (m, n_classes)."""
        xp = self.xp
        classes = xp.arange(n_classes, dtype=y.dtype, device=self.device)
        return xp.astype(y[:, None] == classes[None, :], dtype)

    def keep_mask(self, seed: int, stream: int, start: int, shape: tuple[int, int], dropout: float, dtype):
        """Inverted-dropout mask: ``1/(1-p)`` with probability ``1-p``, else 0.

        Row ``i`` depends only on ``(seed, stream, start + i)``, so a mask does not depend
        on how the rows are split into blocks. The portable version draws it with NumPy
        and copies it to the device; engines draw it where the rows live.
        """
        mask = philox_keep_mask(seed, stream, start, shape, dropout, numpy_dtype(dtype))
        return self.xp.asarray(mask, device=self.device)

    def normal(self, seed: int, stream: int, start: int, shape: tuple[int, int], dtype):
        """Standard normal numbers, row ``i`` a function of ``(seed, stream, start + i)``
        only, as :meth:`keep_mask`'s rows are (the Ladder network's per-layer noise). The
        portable version draws them with NumPy and copies them to the device."""
        numbers = philox_gaussian(seed, stream, start, shape, numpy_dtype(dtype))
        return self.xp.asarray(numbers, device=self.device)

    def float(self, value) -> float:
        """A cost as a Python float (the one place a device value is brought to the host)."""
        return float(value)
