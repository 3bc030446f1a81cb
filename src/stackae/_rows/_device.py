"""Rows in PyTorch, CuPy (or any array API) arrays: a few big blocks where they live.

On a GPU the element-wise passes are cheap next to the kernel launches, so the rows are
taken in as few blocks as fit (all of them by default; ``STACKAE_DEVICE_BLOCK_ROWS``
caps a block) and the sums stay on the device: a cost comes back as a 0-d array and
only the caller turns it into a float.

The kernels here are the library-specific speed tricks: PyTorch's fused ``addmm`` (the
bias added inside the product) and in-place activations, CuPy's ``expit``; masks drawn
by the library's own generator on the device.
"""

from __future__ import annotations

import os
import threading
import zlib

from .._xp import device_of, namespace
from ..activations import ACTIVATIONS
from ._block import Block
from ._kernels import Kernels

__all__ = ["DeviceRows", "kernels_for"]


def _seed_of(seed: int, stream: int, start: int) -> int:
    return zlib.crc32(f"{int(seed)}:{int(stream)}:{int(start)}".encode()) & 0x7FFFFFFF


class TorchKernels(Kernels):
    """PyTorch kernels: fused bias in the product, in-place activations."""

    def __init__(self, xp, device):
        super().__init__(xp, device)
        import torch

        self.torch = torch

    def affine(self, A, W, b, key=None):
        return self.torch.addmm(b, A, W)  # b + A @ W in one kernel

    def activate(self, name, Z):
        if name == "sigmoid":
            return Z.sigmoid_()
        if name == "tanh":
            return Z.tanh_()
        if name == "relu":
            return Z.relu_()
        return ACTIVATIONS[name].f(Z)

    def dot(self, A, B):
        return self.torch.vdot(A.reshape(-1), B.reshape(-1))

    def _backward(self, name):
        """``(G, A) -> G * f'(Z)`` from ``A = f(Z)`` in one kernel (autograd's own), or None."""
        aten = self.torch.ops.aten
        if name == "sigmoid":
            return aten.sigmoid_backward
        if name == "tanh":
            return aten.tanh_backward
        if name == "relu":
            return lambda G, A: aten.threshold_backward(G, A, 0)
        return None

    def _squared_error_delta_of(self, name, Z, T):
        backward = self._backward(name)
        if backward is None:
            return super()._squared_error_delta_of(name, Z, T)
        Xhat = self.activate(name, Z)
        D = Xhat - T
        cost = 0.5 * self.dot(D, D)
        D = backward(D, Xhat)  # (Xhat - T) * f'(Z) without making f'(Z): 3 passes, not 5
        return cost, D, self.sum_rows(D)

    def times_derivative(self, name, G, A, key=None):
        backward = self._backward(name)
        if backward is None:
            return super().times_derivative(name, G, A, key)
        return backward(G, A)  # f'(Z) never made: one pass instead of three

    def dropout(self, name, A, seed, stream, start, dropout, key=None):
        if name != "relu":  # sigmoid's and tanh's f' must be read before the mask
            return super().dropout(name, A, seed, stream, start, dropout, key)
        A *= self.keep_mask(seed, stream, start, tuple(A.shape), dropout, A.dtype)
        return A, 1.0 / (1.0 - dropout)  # the memo: the kept units' scale

    def dropout_delta(self, name, G, A, memo):
        if not isinstance(memo, float):
            return super().dropout_delta(name, G, A, memo)
        # ReLU: G * mask * f'(Z) is G times the scale where the masked activations are
        # positive (kept, and positive before; threshold_backward reads that from A) and
        # 0 elsewhere, where the mask or f' is 0
        G = self.times_derivative("relu", G, A)
        G *= memo
        return G, self.sum_rows(G)

    def keep_mask(self, seed, stream, start, shape, dropout, dtype):
        torch = self.torch
        generator = _generator(torch, self.device).manual_seed(_seed_of(seed, stream, start))
        mask = torch.rand(shape, generator=generator, device=self.device, dtype=dtype)
        return mask.ge_(dropout).mul_(1.0 / (1.0 - dropout))  # 1.0 where kept, then the scale

    def normal(self, seed, stream, start, shape, dtype):
        generator = _generator(self.torch, self.device).manual_seed(_seed_of(seed, stream, start))
        return self.torch.randn(shape, generator=generator, device=self.device, dtype=dtype)


_generators = threading.local()


def _generator(torch, device):
    """This thread's generator for ``device``, re-seeded for every mask (making one is
    dearer than re-seeding one, and a step draws a mask a layer)."""
    cache = _generators.__dict__.setdefault("by_device", {})
    key = str(device)
    if key not in cache:
        cache[key] = torch.Generator(device=device)
    return cache[key]


class CupyKernels(Kernels):
    """CuPy kernels: ``expit`` for the sigmoid, masks from CuPy's generator."""

    def activate(self, name, Z):
        if name == "sigmoid":
            from cupyx.scipy.special import expit

            return expit(Z, out=Z)
        return ACTIVATIONS[name].f(Z)

    def keep_mask(self, seed, stream, start, shape, dropout, dtype):
        import cupy

        with self.device:
            rng = cupy.random.default_rng(_seed_of(seed, stream, start))
            mask = rng.random(shape, dtype=dtype) >= dropout
            return mask.astype(dtype) * (1.0 / (1.0 - dropout))

    def normal(self, seed, stream, start, shape, dtype):
        import cupy

        with self.device:
            return cupy.random.default_rng(_seed_of(seed, stream, start)).standard_normal(shape, dtype=dtype)


def kernels_for(xp, device, library: str) -> Kernels:
    if library == "torch":
        return TorchKernels(xp, device)
    if library == "cupy":
        return CupyKernels(xp, device)
    return Kernels(xp, device)


class DeviceRows:
    """Rows in one array API namespace and device (PyTorch, CuPy, array-api-strict, ...).

    Same interface as :class:`stackae._rows._numpy.NumpyRows`; the sums are arrays on the
    device, never brought to the host here.
    """

    kind = "device"

    def __init__(self, X, y=None, T=None, *, block_rows=None, xp=None, library="array-api", w=None):

        self.X, self.y, self.T, self.w = X, y, T, w
        # the sum of the weights, read once (a host read of the device's sum)
        self.weight_total = X.shape[0] if w is None else float(namespace(X).sum(w))
        self.xp = xp if xp is not None else namespace(X)
        self.device = device_of(X)
        self.library = library
        self.n_samples, self.n_features = X.shape
        self.dtype = X.dtype
        if block_rows is None:
            env = os.environ.get("STACKAE_DEVICE_BLOCK_ROWS")
            block_rows = int(env) if env and env.isdigit() and int(env) > 0 else self.n_samples
        self.block_rows = max(1, int(block_rows))
        self.kernels = kernels_for(self.xp, self.device, library)

    def asarray(self, a):
        """``a`` in this namespace, dtype and device (a no-op for such an array)."""
        xp = self.xp
        a = xp.asarray(a, device=self.device)
        return a if a.dtype == self.dtype else xp.astype(a, self.dtype)

    def scalar(self, a):
        """A small reduction's value, left on the device (a 0-d array)."""
        return a

    def blocks(self):
        m, b = self.n_samples, self.block_rows
        return [(lo, min(lo + b, m)) for lo in range(0, max(m, 1), b)]

    def map_sum(self, fn, args=(), *, keep=False, kept=None, copy=True):
        """As :meth:`NumpyRows.map_sum`; ``cost`` is a 0-d array on the device. The parts
        are always fresh arrays, so ``copy`` changes nothing."""
        cost, acc, kept_out = None, None, []
        for index, (lo, hi) in enumerate(self.blocks()):
            whole = lo == 0 and hi == self.n_samples
            block = Block(
                self.X if whole else self.X[lo:hi, ...],
                None if self.y is None else (self.y if whole else self.y[lo:hi]),
                None if self.T is None else (self.T if whole else self.T[lo:hi, ...]),
                lo,
                None if kept is None else kept[index],
                None if self.w is None else (self.w if whole else self.w[lo:hi]),
            )
            c, parts, keep_item = fn(self.kernels, block, *args)
            if acc is None:
                cost, acc = c, list(parts)
            else:
                cost = cost + c
                acc = [a + p for a, p in zip(acc, parts)]
            if keep:
                kept_out.append(keep_item)
        return cost, acc, (kept_out if keep else None)
