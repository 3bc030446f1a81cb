r"""Corruption of the input of a denoising autoencoder (Vincent et al., 2008, 2010).

A denoising autoencoder reconstructs the clean input ``X`` from a corrupted copy
``X~``; :func:`corrupt` makes the copy. Each kind touches each entry independently:

======================  ========================================================
``"masking"``           each entry is set to 0 with probability ``level``
``"salt_and_pepper"``   each entry is set, with probability ``level``, to 0
                        ("pepper") or 1 ("salt"), each with probability 1/2
                        (``low``/``high`` give other values per column)
``"gaussian"``          :math:`\mathcal{N}(0, \text{level}^2)` is added to each entry
======================  ========================================================

The noise is drawn where the rows live: with NumPy's generator for NumPy arrays, the
library's own generator on a GPU, on the workers for Dask arrays (one seed per chunk).
"""

from __future__ import annotations

import numbers

import numpy as np

from . import _xp
from ._random import philox_below, philox_normal, philox_uniform
from .exceptions import choice_error

__all__ = [
    "NOISE_KINDS",
    "corrupt",
]

NOISE_KINDS = ("masking", "gaussian", "salt_and_pepper")


def check_noise(noise, noise_level, n_layers: int | None = None):
    """``(noise, levels)`` with ``levels`` one number per layer (``n_layers`` of them) or a
    single number; the messages name the parameters."""
    if noise is not None and noise not in NOISE_KINDS:
        raise choice_error("noise", noise, (None, *NOISE_KINDS))
    given = noise_level if not isinstance(noise_level, numbers.Real) else [noise_level]
    levels: list[float] | None
    try:
        levels = [float(v) for v in given if not isinstance(v, bool)] if given is not None else None
    except (TypeError, ValueError):
        levels = None
    ok = levels is not None and len(levels) >= 1 and all(np.isfinite(v) and v >= 0 for v in levels)
    if ok and noise in ("masking", "salt_and_pepper"):
        ok = all(v <= 1 for v in levels or ())
    count_ok = isinstance(noise_level, numbers.Real) or n_layers is None or (ok and len(levels or ()) == n_layers)
    if not ok or not count_ok:
        what = "a number >= 0" if noise == "gaussian" else "a number in [0, 1]"
        per_layer = f", or a sequence of {n_layers} such numbers (one per layer)" if n_layers is not None else ""
        raise ValueError(f"'noise_level' must be {what}{per_layer}, got {noise_level!r}.")
    return noise, levels


def level_of(levels, layer: int) -> float:
    """The noise level of layer ``layer`` (0-based)."""
    return levels[layer] if len(levels) > 1 else levels[0]


def corrupt(X, kind: str | None, level: float, random_state=None, *, low=None, high=None, start: int = 0):
    """A corrupted copy of ``X`` (``X`` itself when ``kind`` is None or ``level`` is 0).

    Parameters
    ----------
    X : array of shape (n_samples, n_features)
        NumPy, PyTorch, CuPy or Dask.
    kind : {None, "masking", "gaussian", "salt_and_pepper"}
    level : float
        The probability of corrupting an entry, or the standard deviation of the
        Gaussian noise.
    random_state : int, numpy Generator, RandomState or None
        Seeds the noise (a device generator is seeded from it).
    low, high : arrays of shape (n_features,), optional
        The values of "pepper" and "salt" per column (default 0 and 1).
    start : int
        The index of ``X``'s first row among the rows being corrupted: a NumPy row's
        noise is a function of the seed and its index only, so rows corrupted in
        chunks (on a cluster) get the noise they would get all at once.
    """
    if kind is None or level == 0:
        return X
    if kind not in NOISE_KINDS:
        check_noise(kind, level)
    seed = _seed(random_state)
    if _xp.is_dask(X):
        return X.map_blocks(_corrupt_chunk, kind, level, seed, low, high, dtype=X.dtype, block_info=True)
    if _xp.is_numpy(X):
        return _apply(np, X, kind, level, low, high, *_row_keyed_draws(seed, start, X.dtype))
    return _corrupt_on_device(X, kind, level, seed, low, high)


def _seed(random_state) -> int:
    if isinstance(random_state, numbers.Integral):
        return int(random_state)
    if isinstance(random_state, np.random.Generator):
        return int(random_state.integers(2**31))
    if isinstance(random_state, np.random.RandomState):
        return int(random_state.randint(2**31))
    return int(np.random.default_rng(random_state).integers(2**31))


def _row_keyed_draws(seed: int, start: int, dtype):
    """``(uniform, normal, below)`` drawing NumPy rows keyed by ``(seed, start + i)``; the
    normal numbers by Box and Muller's transform of two such uniform streams;
    ``below(shape, level)`` is ``uniform(shape) < level`` without making the numbers."""

    def uniform(shape):
        return philox_uniform(seed, 0, start, shape, dtype)

    def normal(shape):  # the uniform streams 1 and 2
        return philox_normal(seed, 0, start, shape, dtype)

    def below(shape, level):
        return philox_below(seed, 0, start, shape, level, dtype)

    return uniform, normal, below


def _apply(xp, X, kind, level, low, high, uniform, normal, below=None):
    """The three kinds of noise with the array operations of ``xp``; ``uniform(shape)``
    draws U[0, 1) and ``normal(shape)`` N(0, 1); ``below(shape, level)``, when given,
    is ``uniform(shape) < level`` made faster."""
    if kind == "gaussian":
        return X + level * normal(X.shape)
    if kind == "masking":
        hit = below(X.shape, level) if below is not None else uniform(X.shape) < level
        return xp.where(hit, xp.zeros_like(X), X)
    U = uniform(X.shape)
    hit = U < level
    # salt and pepper: among the hit entries, U / level is again uniform: below 1/2 pepper
    lo = xp.zeros_like(X) if low is None else xp.broadcast_to(xp.asarray(low, dtype=X.dtype), X.shape)
    hi = xp.ones_like(X) if high is None else xp.broadcast_to(xp.asarray(high, dtype=X.dtype), X.shape)
    salt = U >= 0.5 * level
    return xp.where(hit, xp.where(salt, hi, lo), X)


def _corrupt_chunk(chunk, kind, level, seed, low, high, block_info=None):
    """Dask: one chunk, its rows' noise keyed by their index in the whole array."""
    first_row = block_info[0]["array-location"][0][0] if block_info else 0
    return _apply(np, chunk, kind, level, low, high, *_row_keyed_draws(seed, first_row, chunk.dtype))


def _corrupt_on_device(X, kind, level, seed, low, high):
    xp = _xp.namespace(X)
    library = _xp.library(X)
    device = _xp.device_of(X)
    if library == "torch":
        import torch

        generator = torch.Generator(device=device).manual_seed(seed)

        def uniform(shape):
            return torch.rand(shape, generator=generator, device=device, dtype=X.dtype)

        def normal(shape):
            return torch.randn(shape, generator=generator, device=device, dtype=X.dtype)

    elif library == "cupy":
        import cupy

        with device:
            generator = cupy.random.default_rng(seed)

        def uniform(shape):
            with device:
                return generator.random(shape, dtype=X.dtype)

        def normal(shape):
            with device:
                return generator.standard_normal(shape, dtype=X.dtype)

    else:  # any other array API library: draw on the host
        rng = np.random.default_rng(seed)
        dtype = np.float32 if X.dtype == xp.float32 else np.float64

        def uniform(shape):
            return xp.asarray(rng.random(shape, dtype=dtype), device=device)

        def normal(shape):
            return xp.asarray(rng.standard_normal(shape, dtype=dtype), device=device)

    return _apply(xp, X, kind, level, low, high, uniform, normal)
