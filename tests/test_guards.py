"""Numerical guards: extreme pre-activations, rho_hat at 0 or 1, probabilities of
exactly 0 or 1 give finite values and no warnings (warnings are errors in this suite);
non-finite input is refused."""

from __future__ import annotations

import numpy as np
import pytest

from stackae import SparseAutoencoder, n_params, unpack
from stackae.activations import sigmoid, sigmoid_derivative
from stackae.objectives import softmax_cost, softmax_probabilities, sparse_autoencoder_cost, stack_cost


@pytest.mark.parametrize("dtype", [np.float32, np.float64])
def test_sigmoid_of_extreme_preactivations(dtype):
    Z = np.array([-1000.0, -50.0, 0.0, 50.0, 1000.0], dtype=dtype)
    A = sigmoid(Z.copy())
    assert A.dtype == dtype
    assert A[0] == 0.0 and A[-1] == 1.0 and A[2] == 0.5
    np.testing.assert_array_equal(sigmoid_derivative(A)[[0, -1]], [0.0, 0.0])


def test_sparse_autoencoder_with_saturated_units():
    """Biases of +-1000 drive rho_hat to exactly 1 (or 0) and every output to 0 or 1."""
    X = np.array([[0.0, 1.0, 0.5], [1.0, 0.0, 0.25]])
    for sign in (1.0, -1.0):
        theta = np.zeros(n_params((3, 2, 3)))
        (W1, W2), (b1, b2) = unpack(theta, (3, 2, 3))
        b1[...] = sign * 1000.0
        b2[...] = -sign * 1000.0
        cost, grad = sparse_autoencoder_cost(theta, X, 2, alpha=3e-3, sparsity_target=0.1, sparsity_weight=3.0)
        assert np.isfinite(cost) and np.all(np.isfinite(grad))
        assert cost > 10  # the KL term is huge but finite


def test_softmax_with_probabilities_of_exactly_zero_and_one():
    X = np.array([[1.0, 0.0], [0.0, 1.0]])
    theta = np.zeros(n_params((2, 3)))
    (Theta,), _ = unpack(theta, (2, 3))
    Theta[0, 0] = Theta[1, 1] = 1000.0  # P[i, i] == 1 exactly, the rest 0
    P = softmax_probabilities(X @ Theta)
    assert P[0, 0] == 1.0 and P[0, 1] == 0.0
    cost, grad = softmax_cost(theta, X, np.array([0, 1]), 3, alpha=0.0)
    assert cost == 0.0 and np.all(np.isfinite(grad))
    cost, grad = softmax_cost(theta, X, np.array([2, 2]), 3, alpha=0.0)  # the labels get P == 0
    assert cost == pytest.approx(1000.0) and np.all(np.isfinite(grad))


def test_stack_with_extreme_weights_in_float32():
    rng = np.random.default_rng(0)
    X = rng.random((5, 4)).astype(np.float32)
    theta = rng.choice([-1000.0, 1000.0], n_params((4, 3, 2))).astype(np.float32)
    cost, grad = stack_cost(theta, X, rng.integers(0, 2, 5), (3,), 2, alpha=1e-4)
    assert np.isfinite(cost) and np.all(np.isfinite(grad)) and grad.dtype == np.float32


@pytest.mark.parametrize("bad", [np.nan, np.inf])
def test_non_finite_input_is_refused(bad):
    X = np.random.rand(5, 3)
    X[2, 1] = bad
    with pytest.raises(ValueError, match=r"^Input X contains (NaN|infinity)"):
        SparseAutoencoder(2).fit(X)
