"""The NumPy engine's kernels: in place, with one set of scratch buffers per thread
(see :mod:`._numpy` for why blocks, and :mod:`._compiled` for the fused companion)."""

from __future__ import annotations

import array_api_compat.numpy as xnp
import numpy as np

from .._random import philox_keep_mask
from ..activations import ACTIVATIONS
from ._kernels import Kernels

__all__ = ["NumpyKernels"]


def _sigmoid_inplace(Z):
    # 1 / (1 + exp(-z)) in three in-place passes: NumPy's vectorised exp is faster than
    # scipy's expit loop; exp(-z) overflows to inf for z < -88 (float32), which
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

    def keep_mask(self, seed, stream, start, shape, dropout, dtype):
        return philox_keep_mask(seed, stream, start, shape, dropout, dtype)

    def float(self, value):
        return float(value)
