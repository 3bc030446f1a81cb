"""One flat parameter vector <-> named per-layer views (no copies).

Every model in stackae is a chain of dense layers described by its layer sizes
``(n_0, n_1, ..., n_L)``; layer ``l`` maps ``n_{l-1}`` inputs to ``n_l`` outputs with
a weight matrix ``W_l`` of shape ``(n_{l-1}, n_l)`` (one row per input unit, so that
``Z = A @ W + b`` for ``A`` of shape ``(n_samples, n_{l-1})``) and a bias ``b_l`` of
shape ``(n_l,)``.

The packing rule, the same for every ``theta`` in the package: all weight matrices in
layer order, each raveled in C order, followed by all bias vectors in layer order::

    sparse autoencoder (n, h, n):     [W1, W2, b1, b2]
    softmax regression (n, k):        [Theta, c]
    stack (n_0, n_1, ..., n_L, k):    [W1, ..., WL, Theta, b1, ..., bL, c]
"""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np

__all__ = ["init_theta", "n_params", "pack", "unpack"]


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


def unpack(theta: np.ndarray, layer_sizes: Sequence[int]):
    """Views ``(weights, biases)`` into ``theta``; writing to a view writes ``theta``.

    Parameters
    ----------
    theta : ndarray of shape (n_params,)
        Contiguous flat parameter vector.
    layer_sizes : sequence of int
        ``(n_0, ..., n_L)``.

    Returns
    -------
    weights : list of ndarray, ``weights[l]`` of shape ``(n_l, n_{l+1})``
    biases : list of ndarray, ``biases[l]`` of shape ``(n_{l+1},)``
    """
    sizes = _check_sizes(layer_sizes)
    expected = n_params(sizes)
    if theta.ndim != 1 or theta.shape[0] != expected:
        raise ValueError(f"'theta' must have shape ({expected},) for layer sizes {sizes}, got {theta.shape}.")
    weights, biases = [], []
    offset = 0
    for n_in, n_out in zip(sizes[:-1], sizes[1:]):
        weights.append(theta[offset : offset + n_in * n_out].reshape(n_in, n_out))
        offset += n_in * n_out
    for n_out in sizes[1:]:
        biases.append(theta[offset : offset + n_out])
        offset += n_out
    return weights, biases


def pack(weights: Sequence[np.ndarray], biases: Sequence[np.ndarray], dtype=None) -> np.ndarray:
    """Flat vector from per-layer weights and biases (the inverse of :func:`unpack`)."""
    if len(weights) != len(biases):
        raise ValueError(f"'weights' and 'biases' must have the same length, got {len(weights)} and {len(biases)}.")
    if dtype is None:
        dtype = np.result_type(*weights, *biases)
    parts = [np.asarray(w, dtype=dtype).ravel() for w in weights]
    parts += [np.asarray(b, dtype=dtype).ravel() for b in biases]
    return np.concatenate(parts)


def init_theta(layer_sizes: Sequence[int], random_state=None, dtype=np.float64) -> np.ndarray:
    """UFLDL's initialisation: ``W_l ~ U(-r, r)`` with ``r = sqrt(6/(n_in+n_out+1))``, biases 0.

    Parameters
    ----------
    layer_sizes : sequence of int
    random_state : int, RandomState, Generator or None
        A ``numpy.random.Generator`` is used as it is; anything else goes through
        :func:`sklearn.utils.check_random_state`.
    dtype : float32 or float64
    """
    from sklearn.utils import check_random_state

    rng = random_state if isinstance(random_state, np.random.Generator) else check_random_state(random_state)
    sizes = _check_sizes(layer_sizes)
    theta = np.zeros(n_params(sizes), dtype=dtype)
    weights, _ = unpack(theta, sizes)
    for W in weights:
        n_in, n_out = W.shape
        r = np.sqrt(6.0 / (n_in + n_out + 1))
        W[...] = rng.uniform(-r, r, size=W.shape)
    return theta
