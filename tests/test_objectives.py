"""The objectives: gradients by central differences, pinned values, an independent
per-sample implementation, dtypes, block/thread invariance, and error messages."""

from __future__ import annotations

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from hypothesis.extra.numpy import arrays

from stackae import _rows, init_theta, n_params, pack, unpack
from stackae._rows import _tuning
from stackae.gradcheck import check_gradient, numerical_gradient, relative_difference
from stackae.objectives import softmax_cost, softmax_probabilities, sparse_autoencoder_cost, stack_cost

TOL = 1e-9  # UFLDL: ||num - ana|| / ||num + ana|| < 1e-9 in float64
# UFLDL's epsilon = 1e-4 with the four-point central stencil: the two-point one's
# truncation error alone reaches ~2e-9 at random points (see stackae.gradcheck).
ORDER = 4


def _perturbed(sizes, rng, scale=0.1):
    """UFLDL's initialisation plus noise, so that biases are non-zero too."""
    return init_theta(sizes, rng) + rng.normal(0.0, scale, n_params(sizes))


# ----------------------------------------------------------------- gradient checks
@pytest.mark.parametrize(
    ("m", "n", "h", "alpha", "rho", "beta"),
    [(1, 3, 2, 0.0, 0.1, 3.0), (7, 5, 3, 3e-3, 0.1, 3.0), (12, 8, 10, 1e-2, 0.05, 0.5), (9, 6, 4, 0.1, 0.3, 0.0)],
)
def test_sparse_autoencoder_gradient(m, n, h, alpha, rho, beta):
    rng = np.random.default_rng(m * 100 + n)
    X = rng.random((m, n))
    theta = _perturbed((n, h, n), rng)

    def fun(t):
        return sparse_autoencoder_cost(t, X, h, alpha=alpha, sparsity_target=rho, sparsity_weight=beta)

    assert check_gradient(fun, theta, order=ORDER) < TOL


@pytest.mark.parametrize(("m", "n", "k", "alpha"), [(1, 3, 2, 0.0), (10, 4, 2, 1e-4), (15, 6, 5, 1e-2)])
def test_softmax_gradient(m, n, k, alpha):
    rng = np.random.default_rng(m + k)
    X = rng.random((m, n))
    y = rng.integers(0, k, m)
    theta = rng.normal(0.0, 0.5, n_params((n, k)))
    assert check_gradient(lambda t: softmax_cost(t, X, y, k, alpha=alpha), theta, order=ORDER) < TOL


@pytest.mark.parametrize("decay", ["softmax", "all"])
@pytest.mark.parametrize(
    ("m", "n", "hidden", "k"),
    [(6, 5, (4,), 2), (11, 7, (6, 3), 4), (9, 4, (5, 6, 3), 3), (1, 3, (2, 2), 2)],
)
def test_stack_gradient(m, n, hidden, k, decay):
    rng = np.random.default_rng(sum(hidden) + m)
    X = rng.random((m, n))
    y = rng.integers(0, k, m)
    theta = rng.normal(0.0, 0.5, n_params((n, *hidden, k)))

    def fun(t):
        return stack_cost(t, X, y, hidden, k, alpha=3e-3, decay=decay)

    assert check_gradient(fun, theta, order=ORDER) < TOL


def test_gradcheck_passes_ufldl_own_check():
    """UFLDL's checkNumericalGradient: h(x) = x1^2 + 3 x1 x2 at (4, 10)."""

    def h(x):
        return x[0] ** 2 + 3 * x[0] * x[1], np.array([2 * x[0] + 3 * x[1], 3 * x[0]])

    x = np.array([4.0, 10.0])
    numeric = numerical_gradient(h, x)
    np.testing.assert_allclose(numeric, [38.0, 12.0], rtol=1e-9)
    assert relative_difference(numeric, h(x)[1]) < TOL
    assert check_gradient(h, x) < TOL
    assert check_gradient(h, x, order=4) < TOL


def test_two_point_check_within_ufldl_threshold_at_ufldl_scale():
    """UFLDL's own recipe (two-point stencil, epsilon 1e-4) at UFLDL's initial scale;
    its truncation error alone can reach 2e-9, hence 1e-8 here."""
    rng = np.random.default_rng(2)
    X, y = rng.random((8, 5)), rng.integers(0, 3, 8)
    theta = _perturbed((5, 4, 3), rng)
    assert check_gradient(lambda t: stack_cost(t, X, y, (4,), 3, alpha=3e-3), theta) < 1e-8


def test_gradcheck_catches_a_wrong_gradient():
    def wrong(x):
        return float(x @ x), 2.1 * x

    assert check_gradient(wrong, np.array([1.0, -2.0, 3.0])) > 1e-3
    with pytest.raises(ValueError, match=r"^'order' must be 2 or 4, got 3\.$"):
        numerical_gradient(wrong, np.zeros(2), order=3)


# ----------------------------------------------------------------- pinned values
def test_sparse_autoencoder_pinned_value_at_zero_weights():
    """Zero weights: every unit outputs f(0) = 1/2, so rho_hat = 1/2 and Xhat = 1/2."""
    X = np.array([[0.0, 1.0]])
    theta = np.zeros(n_params((2, 2, 2)))
    cost, grad = sparse_autoencoder_cost(theta, X, 2, alpha=0.5, sparsity_target=0.1, sparsity_weight=3.0)
    # (1/2m)||Xhat - X||^2 = 0.5 * (0.25 + 0.25); 2 units * 3 * KL(0.1 || 0.5)
    expected = 0.25 + 2 * 3.0 * (0.1 * np.log(0.1 / 0.5) + 0.9 * np.log(0.9 / 0.5))
    assert cost == pytest.approx(expected, rel=1e-14)
    (gW1, gW2), (gb1, gb2) = unpack(grad, (2, 2, 2))
    # delta_3 = (Xhat - X) * 1/4 = [1/8, -1/8]; grad b2 = delta_3, grad W2 = H^T delta_3
    np.testing.assert_allclose(gb2, [0.125, -0.125], rtol=1e-14)
    np.testing.assert_allclose(gW2, [[0.0625, -0.0625], [0.0625, -0.0625]], rtol=1e-14)
    # delta_2 = (0 + 3 (-0.1/0.5 + 0.9/0.5)) * 1/4 = 1.2 per unit; grad W1 = X^T delta_2
    np.testing.assert_allclose(gb1, [1.2, 1.2], rtol=1e-14)
    np.testing.assert_allclose(gW1, [[0.0, 0.0], [1.2, 1.2]], rtol=1e-14)


def test_softmax_pinned_value_at_zero_weights():
    """Zero weights: P = 1/k everywhere, J = log k, grad Theta = X^T (1/k - Y) / m."""
    X = np.array([[1.0, 2.0], [3.0, 4.0]])
    y = np.array([0, 2])
    cost, grad = softmax_cost(np.zeros(n_params((2, 3))), X, y, 3, alpha=1.0)
    assert cost == pytest.approx(np.log(3.0), rel=1e-15)
    (gTheta,), (gc,) = unpack(grad, (2, 3))
    Y = np.array([[1.0, 0, 0], [0, 0, 1.0]])
    np.testing.assert_allclose(gTheta, X.T @ (1 / 3 - Y) / 2, rtol=1e-14)
    np.testing.assert_allclose(gc, (1 / 3 - Y).mean(axis=0), rtol=1e-14, atol=1e-17)


def test_stack_without_hidden_layers_is_softmax():
    rng = np.random.default_rng(3)
    X, y = rng.random((20, 4)), rng.integers(0, 3, 20)
    theta = rng.normal(size=n_params((4, 3)))
    c1, g1 = stack_cost(theta, X, y, (), 3, alpha=0.3)
    c2, g2 = softmax_cost(theta, X, y, 3, alpha=0.3)
    assert c1 == c2
    np.testing.assert_array_equal(g1, g2)


# ------------------------------------------------- independent implementation
def _sigmoid(z):
    return 1.0 / (1.0 + np.exp(-z))


def _stack_per_sample(theta, X, y, hidden, k, alpha, decay):
    """UFLDL's column-vector backprop, one sample at a time (deliberately naive)."""
    sizes = (X.shape[1], *hidden, k)
    weights, biases = unpack(theta, sizes)
    Ws = [W.T for W in weights]  # column form: W^(l) of shape (n_out, n_in)
    grads_W = [np.zeros_like(W) for W in Ws]
    grads_b = [np.zeros_like(b) for b in biases]
    cost = 0.0
    m = X.shape[0]
    for x, label in zip(X, y):
        a = [x]
        for W, b in zip(Ws[:-1], biases[:-1]):
            a.append(_sigmoid(W @ a[-1] + b))
        s = Ws[-1] @ a[-1] + biases[-1]
        p = np.exp(s - s.max())
        p /= p.sum()
        cost -= np.log(p[label]) / m
        onehot = np.eye(k)[label]
        delta = -(onehot - p) / m  # the tutorial's grad J = -Theta^T (I - P)
        grads_W[-1] += np.outer(delta, a[-1])
        grads_b[-1] += delta
        for layer in range(len(hidden) - 1, -1, -1):
            delta = (Ws[layer + 1].T @ delta) * a[layer + 1] * (1 - a[layer + 1])
            grads_W[layer] += np.outer(delta, a[layer])
            grads_b[layer] += delta
    decayed = range(len(Ws)) if decay == "all" else [len(Ws) - 1]
    for i in decayed:
        cost += 0.5 * alpha * np.sum(Ws[i] ** 2)
        grads_W[i] += alpha * Ws[i]
    return cost, pack([g.T for g in grads_W], grads_b)


@pytest.mark.parametrize("decay", ["softmax", "all"])
def test_stack_matches_per_sample_backprop(decay):
    rng = np.random.default_rng(11)
    X, y = rng.random((13, 6)), rng.integers(0, 4, 13)
    hidden = (5, 3)
    theta = rng.normal(0.0, 0.7, n_params((6, *hidden, 4)))
    cost, grad = stack_cost(theta, X, y, hidden, 4, alpha=0.01, decay=decay)
    ref_cost, ref_grad = _stack_per_sample(theta, X, y, hidden, 4, 0.01, decay)
    assert cost == pytest.approx(ref_cost, rel=1e-12)
    np.testing.assert_allclose(grad, ref_grad, rtol=1e-10, atol=1e-14)


# -------------------------------------------------- blocks, threads and dtypes
@pytest.mark.parametrize("n_threads", [1, 2, 3])
def test_blocked_threaded_evaluation_matches_single_block(monkeypatch, n_threads):
    rng = np.random.default_rng(5)
    X, y = rng.random((203, 9)), rng.integers(0, 3, 203)
    theta_ae = _perturbed((9, 4, 9), rng)
    theta_st = rng.normal(0, 0.5, n_params((9, 5, 4, 3)))

    def both():
        ae = sparse_autoencoder_cost(theta_ae, X, 4, alpha=1e-3, sparsity_target=0.1, sparsity_weight=3.0)
        st_ = stack_cost(theta_st, X, y, (5, 4), 3, alpha=1e-3, decay="all")
        return ae, st_

    _tuning.set_block_rows(1000)
    try:
        (ae_ref, st_ref) = both()  # 203 rows: one block
        _tuning.set_block_rows(16)
        _rows.set_num_threads(n_threads)
        (ae, st_) = both()
    finally:
        _rows.set_num_threads(None)
        _tuning.set_block_rows(None)
    for (c, g), (c_ref, g_ref) in ((ae, ae_ref), (st_, st_ref)):
        assert c == pytest.approx(c_ref, rel=1e-12)
        np.testing.assert_allclose(g, g_ref, rtol=1e-11, atol=1e-15)


def test_float32_in_float32_out():
    rng = np.random.default_rng(0)
    X = rng.random((30, 6)).astype(np.float32)
    y = rng.integers(0, 3, 30)
    for theta, fun in [
        (
            init_theta((6, 4, 6), 0, np.float32),
            lambda t: sparse_autoencoder_cost(t, X, 4, alpha=3e-3, sparsity_target=0.1, sparsity_weight=3.0),
        ),
        (init_theta((6, 3), 0, np.float32), lambda t: softmax_cost(t, X, y, 3, alpha=1e-4)),
        (init_theta((6, 5, 3), 0, np.float32), lambda t: stack_cost(t, X, y, (5,), 3, alpha=1e-4)),
    ]:
        cost, grad = fun(theta)
        assert grad.dtype == np.float32 and grad.shape == theta.shape
        assert np.isfinite(cost)


def test_float32_matches_float64_to_single_precision():
    rng = np.random.default_rng(1)
    X64 = rng.random((40, 7))
    X32 = X64.astype(np.float32)
    theta = _perturbed((7, 5, 7), rng)
    c64, g64 = sparse_autoencoder_cost(theta, X64, 5, alpha=3e-3, sparsity_target=0.1, sparsity_weight=3.0)
    c32, g32 = sparse_autoencoder_cost(theta, X32, 5, alpha=3e-3, sparsity_target=0.1, sparsity_weight=3.0)
    # theta is float64, so the gradient comes back float64 though computed in float32
    assert g32.dtype == np.float64
    assert c32 == pytest.approx(c64, rel=1e-5)
    assert relative_difference(g32, g64) < 1e-5


# ------------------------------------------------------------------- invariants
@settings(max_examples=50, deadline=None)
@given(arrays(np.float64, st.tuples(st.integers(1, 6), st.integers(2, 5)), elements=st.floats(-1e3, 1e3)))
def test_softmax_rows_sum_to_one(S):
    P = softmax_probabilities(S)
    assert np.all(np.isfinite(P)) and np.all(P >= 0)
    np.testing.assert_allclose(P.sum(axis=1), 1.0, rtol=1e-12)


@settings(max_examples=30, deadline=None)
@given(st.floats(-1e3, 1e3), st.integers(0, 2))
def test_costs_stay_finite_for_extreme_weights(scale, label):
    """Probabilities of exactly 0 or 1 and saturated sigmoids give finite costs."""
    X = np.array([[1.0, -1.0, 0.5], [0.0, 1.0, 1.0]])
    y = np.array([label, (label + 1) % 3])
    theta = np.full(n_params((3, 4, 3)), scale)
    cost, grad = stack_cost(theta, X, y, (4,), 3, alpha=1e-4)
    assert np.isfinite(cost) and np.all(np.isfinite(grad))
    theta_ae = np.full(n_params((3, 2, 3)), scale)
    cost, grad = sparse_autoencoder_cost(theta_ae, np.abs(X), 2, alpha=1e-4, sparsity_target=0.1, sparsity_weight=3.0)
    assert np.isfinite(cost) and np.all(np.isfinite(grad))


# ---------------------------------------------------------------------- errors
def test_wrong_theta_length_message():
    with pytest.raises(
        ValueError, match=r"^'theta' must have shape \(40,\) for layer sizes \(4, 4, 4\), got \(3,\)\.$"
    ):
        sparse_autoencoder_cost(np.zeros(3), np.zeros((2, 4)), 4, alpha=0, sparsity_target=0.1, sparsity_weight=1)


def test_label_out_of_range_message():
    with pytest.raises(ValueError, match=r"^'y' must hold class indices in 0\.\.2, got values in 0\.\.3\.$"):
        softmax_cost(np.zeros(n_params((2, 3))), np.zeros((2, 2)), np.array([0, 3]), 3, alpha=0)


def test_bad_decay_message():
    with pytest.raises(ValueError, match=r"^'decay' must be 'softmax' or 'all', got 'none'\.$"):
        stack_cost(np.zeros(9), np.zeros((1, 2)), np.array([0]), (), 3, alpha=0, decay="none")


def test_x_must_be_2d_message():
    with pytest.raises(ValueError, match=r"^'X' must be 2-dimensional \(n_samples, n_features\), got shape \(3,\)\.$"):
        softmax_cost(np.zeros(3), np.zeros(3), np.array([0]), 3, alpha=0)


# ------------------------------------------------------- parts of a one-block sum
def _scratch_block(k, block, value):
    out = k.buffer("part", (3,), np.float64)
    out[...] = value
    return 0.0, [out], None


@pytest.mark.parametrize(
    ("m", "expected"),
    [
        (100, [(0, 100)]),
        (1023, [(0, 1023)]),  # fewer rows than a block per thread: one block, BLAS on both
        (1024, [(0, 512), (512, 1024)]),
        (1100, [(0, 512), (512, 1024), (1024, 1100)]),
    ],
)
def test_fewer_rows_than_a_block_per_thread_are_one_block(m, expected):
    rows = _rows.NumpyRows(np.zeros((m, 2)), block_rows=512, n_threads=2)
    assert rows.blocks() == expected
    assert _rows.NumpyRows(np.zeros((m, 2)), block_rows=512, n_threads=1).blocks()[0] == (0, min(m, 512))


@pytest.mark.parametrize("copy", [True, False])
def test_a_one_block_sum_copies_its_parts_unless_told_not_to(copy):
    rows = _rows.NumpyRows(np.zeros((5, 2)), n_threads=1)
    _, (first,), _ = rows.map_sum(_scratch_block, (1.0,), copy=copy)
    _, (second,), _ = rows.map_sum(_scratch_block, (2.0,), copy=copy)
    np.testing.assert_array_equal(second, 2.0)
    # copied, the first result stays; not copied, it was the thread's scratch buffer
    np.testing.assert_array_equal(first, 1.0 if copy else 2.0)


def test_a_returned_gradient_is_not_overwritten_by_the_next_evaluation():
    """The objectives take a minibatch's parts uncopied: what they return must still be
    their own (a later evaluation on this thread reuses the scratch buffers)."""
    rng = np.random.default_rng(8)
    X, y = rng.random((40, 6)), rng.integers(0, 3, 40)  # one block
    t1, t2 = rng.normal(size=(2, n_params((6, 4, 6))))
    c1, g1 = sparse_autoencoder_cost(t1, X, 4, alpha=1e-3, sparsity_target=0.1, sparsity_weight=3.0)
    g1_kept = g1.copy()
    sparse_autoencoder_cost(t2, X, 4, alpha=1e-3, sparsity_target=0.1, sparsity_weight=3.0)
    np.testing.assert_array_equal(g1, g1_kept)
    s1, s2 = rng.normal(size=(2, n_params((6, 5, 3))))
    _, h1 = stack_cost(s1, X, y, (5,), 3, alpha=1e-3)
    h1_kept = h1.copy()
    stack_cost(s2, X, y, (5,), 3, alpha=1e-3)
    np.testing.assert_array_equal(h1, h1_kept)


def test_gradient_checks_across_relu_kinks_judge_the_kinks_apart_and_still_catch_errors():
    from stackae.gradcheck import check_gradient_apart_from_kinks

    rng = np.random.default_rng(0)
    X, y = rng.random((3000, 8)), rng.integers(0, 3, 3000)
    theta = rng.normal(0, 0.5, n_params((8, 6, 4, 3)))

    def relu(t):
        return stack_cost(t, X, y, (6, 4), 3, alpha=1e-4, activation="relu", dropout=(0.2, 0.5, 0.5))

    plain = check_gradient(relu, theta, order=ORDER)
    apart, n_apart = check_gradient_apart_from_kinks(relu, theta)
    assert plain > TOL and n_apart > 0  # so many rows that some unit's input sits at a kink
    assert apart < TOL

    def wrong(t):
        cost, grad = relu(t)
        grad = grad.copy()
        grad[3] *= 1.001
        return cost, grad

    assert check_gradient_apart_from_kinks(wrong, theta)[0] > 1e-6
    smooth = lambda t: stack_cost(t, X[:50], y[:50], (6, 4), 3, alpha=1e-4)  # noqa: E731
    assert check_gradient_apart_from_kinks(smooth, theta)[1] == 0
