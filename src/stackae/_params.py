"""One flat parameter vector <-> named per-layer views (no copies).

Every model in stackae is a chain of dense layers described by its layer sizes
``(n_0, n_1, ..., n_L)``; layer ``l`` maps ``n_{l-1}`` inputs to ``n_l`` outputs with
a weight matrix ``W_l`` of shape ``(n_{l-1}, n_l)`` (one row per input unit, so that
``Z = A @ W + b`` for ``A`` of shape ``(n_samples, n_{l-1})``) and a bias ``b_l`` of
shape ``(n_l,)``.

The packing rule, the same for every ``theta`` in the package: all weight matrices in
layer order, each raveled in C order, followed by all bias vectors in layer order::

    sparse autoencoder (n, h, n):     [W1, W2, b1, b2]
    tied autoencoder (n, h, n):       [W1, b1, b2]          (W2 = W1^T)
    softmax regression (n, k):        [Theta, c]
    stack (n_0, n_1, ..., n_L, k):    [W1, ..., WL, Theta, b1, ..., bL, c]

The functions work on any array API array (NumPy, PyTorch, CuPy): the views share
memory with ``theta`` wherever the library's slicing and reshaping do (all three do).
"""

from __future__ import annotations

import functools
from collections.abc import Sequence

import numpy as np

from ._xp import namespace

__all__ = ["init_theta", "n_params", "pack", "flatten", "unpack", "reshape", "autoencoder_layout"]


def _check_sizes(layer_sizes: Sequence[int]) -> tuple[int, ...]:
    sizes = tuple(int(s) for s in layer_sizes)
    if len(sizes) < 2:
        raise ValueError(f"'layer_sizes' must hold at least 2 sizes, got {sizes!r}.")
    if any(s < 1 for s in sizes):
        raise ValueError(f"'layer_sizes' must all be positive, got {sizes!r}.")
    return sizes


def n_params(layer_sizes: Sequence[int]) -> int:
    """Length of the flat vector for a chain of dense layers with these sizes."""
    sizes = _check_sizes(layer_sizes)
    return sum(a * b for a, b in zip(sizes[:-1], sizes[1:])) + sum(sizes[1:])


def reshape(a, shape):
    """``a`` reshaped (a view where the library gives one), for NumPy or any array API array."""
    if isinstance(a, np.ndarray):
        return a.reshape(shape)

    return namespace(a).reshape(a, shape)


def _views(theta, weight_shapes, bias_sizes):
    weights, biases = [], []
    offset = 0
    for n_in, n_out in weight_shapes:
        weights.append(reshape(theta[offset : offset + n_in * n_out], (n_in, n_out)))
        offset += n_in * n_out
    for n_out in bias_sizes:
        biases.append(theta[offset : offset + n_out])
        offset += n_out
    return weights, biases


def unpack(theta, layer_sizes: Sequence[int]):
    """Views ``(weights, biases)`` into ``theta``; writing to a view writes ``theta``.

    Parameters
    ----------
    theta : array of shape (n_params,)
        Contiguous flat parameter vector (NumPy, PyTorch, CuPy, ...).
    layer_sizes : sequence of int
        ``(n_0, ..., n_L)``.

    Returns
    -------
    weights : list of arrays, ``weights[l]`` of shape ``(n_l, n_{l+1})``
    biases : list of arrays, ``biases[l]`` of shape ``(n_{l+1},)``
    """
    sizes, weight_shapes, expected = _layout(tuple(layer_sizes))
    if theta.ndim != 1 or theta.shape[0] != expected:
        raise ValueError(f"'theta' must have shape ({expected},) for layer sizes {sizes}, got {tuple(theta.shape)}.")
    return _views(theta, weight_shapes, sizes[1:])


@functools.lru_cache(maxsize=256)
def _layout(layer_sizes: tuple):
    """``(sizes, weight shapes, n_params)`` of checked layer sizes, worked out once per
    network (:func:`unpack` runs a few times a minibatch step)."""
    sizes = _check_sizes(layer_sizes)
    return sizes, tuple(zip(sizes[:-1], sizes[1:])), n_params(sizes)


def autoencoder_layout(n: int, h: int, tied: bool):
    """``(n_params, unpack)`` of an ``n``-``h``-``n`` autoencoder; ``unpack(theta)`` gives
    ``(W1, W2, b1, b2)`` with ``W2 = W1.T`` (a view) when ``tied``."""
    if not tied:
        sizes = (n, h, n)

        def unpack_untied(theta):
            (W1, W2), (b1, b2) = unpack(theta, sizes)
            return W1, W2, b1, b2

        return n_params(sizes), unpack_untied

    def unpack_tied(theta):
        if theta.ndim != 1 or theta.shape[0] != n * h + h + n:
            raise ValueError(f"'theta' must have shape ({n * h + h + n},) for a tied {n}-{h}-{n} autoencoder.")
        (W1,), (b1, b2) = _views(theta, [(n, h)], (h, n))
        return W1, W1.T, b1, b2

    return n * h + h + n, unpack_tied


def pack(weights: Sequence, biases: Sequence, dtype=None):
    """Flat vector from per-layer weights and biases (the inverse of :func:`unpack`).

    NumPy in, NumPy out (``dtype`` as given, else the arrays' common type); other array
    API arrays are concatenated in their own namespace.
    """
    if len(weights) != len(biases):
        raise ValueError(f"'weights' and 'biases' must have the same length, got {len(weights)} and {len(biases)}.")
    return flatten([*weights, *biases], dtype)


def flatten(parts: Sequence, dtype=None):
    """The arrays ``parts``, raveled in C order and concatenated (any packing rule)."""
    parts = list(parts)
    if all(isinstance(p, np.ndarray | np.generic | list | tuple | float | int) for p in parts):
        if dtype is None:
            dtype = np.result_type(*parts)
        return np.concatenate([np.asarray(p, dtype=dtype).ravel() for p in parts])

    xp = namespace(*parts)
    flat = xp.concat([xp.reshape(p, (-1,)) for p in parts])
    return flat if dtype is None else xp.astype(flat, dtype)


def init_theta(layer_sizes: Sequence[int], random_state=None, dtype=np.float64, *, tied: bool = False) -> np.ndarray:
    """UFLDL's initialisation: ``W_l ~ U(-r, r)`` with ``r = sqrt(6/(n_in+n_out+1))``, biases 0.

    Parameters
    ----------
    layer_sizes : sequence of int
    random_state : int, RandomState, Generator or None
        A ``numpy.random.Generator`` is used as it is; anything else goes through
        :func:`sklearn.utils.check_random_state`.
    dtype : float32 or float64
    tied : bool
        For an autoencoder ``(n, h, n)``: one weight matrix (``[W1, b1, b2]``).
    """
    from sklearn.utils import check_random_state

    rng = random_state if isinstance(random_state, np.random.Generator) else check_random_state(random_state)
    sizes = _check_sizes(layer_sizes)
    if tied:
        if len(sizes) != 3 or sizes[0] != sizes[2]:
            raise ValueError(f"'tied' needs autoencoder sizes (n, h, n), got {sizes!r}.")
        n, h = sizes[:2]
        theta = np.zeros(n * h + h + n, dtype=dtype)
        r = np.sqrt(6.0 / (n + h + 1))
        theta[: n * h] = rng.uniform(-r, r, size=n * h)
        return theta
    theta = np.zeros(n_params(sizes), dtype=dtype)
    weights, _ = unpack(theta, sizes)
    for W in weights:
        n_in, n_out = W.shape
        r = np.sqrt(6.0 / (n_in + n_out + 1))
        W[...] = rng.uniform(-r, r, size=W.shape)
    return theta
