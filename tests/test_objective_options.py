"""The objectives' options beyond UFLDL (denoising targets, tied weights, tanh/ReLU units,
linear outputs, cross-entropy, contraction, dropout): every combination against central
differences, defaults pinned to the first release's values, clear errors."""

from __future__ import annotations

import itertools

import numpy as np
import pytest

from stackae import init_theta, n_params
from stackae._rows import _tuning
from stackae.gradcheck import check_gradient
from stackae.objectives import sparse_autoencoder_cost, stack_cost

TOL = 1e-9
ORDER = 4  # four-point central differences (see stackae.gradcheck)

AE_COMBINATIONS = [
    (tied, activation, output, loss, contraction)
    for tied, activation, (output, loss), contraction in itertools.product(
        (False, True),
        ("sigmoid", "tanh", "relu"),
        (("sigmoid", "squared"), ("linear", "squared"), ("sigmoid", "cross_entropy")),
        (0.0, 0.3),
    )
]


def _ae_theta(n, h, tied, rng):
    theta = init_theta((n, h, n), rng, tied=tied)
    return theta + rng.normal(0.0, 0.2, theta.size)


@pytest.mark.parametrize(("tied", "activation", "output", "loss", "contraction"), AE_COMBINATIONS)
def test_autoencoder_gradient_every_combination(tied, activation, output, loss, contraction):
    # a fixed seed per combination (ReLU's kink at 0 must not fall within 2 epsilon of a z)
    rng = np.random.default_rng(AE_COMBINATIONS.index((tied, activation, output, loss, contraction)))
    m, n, h = 7, 5, 3
    X = rng.random((m, n))
    target = rng.random((m, n))  # a denoising autoencoder's clean input
    theta = _ae_theta(n, h, tied, rng)
    beta = 3.0 if activation == "sigmoid" else 0.0

    def fun(t):
        return sparse_autoencoder_cost(
            t,
            X,
            h,
            alpha=3e-3,
            sparsity_target=0.1,
            sparsity_weight=beta,
            target=target,
            tied=tied,
            activation=activation,
            output_activation=output,
            loss=loss,
            contraction=contraction,
        )

    assert check_gradient(fun, theta, order=ORDER) < TOL


@pytest.mark.parametrize("activation", ["sigmoid", "tanh", "relu"])
@pytest.mark.parametrize("dropout", [0.0, 0.4, (0.2, 0.5, 0.3)])
@pytest.mark.parametrize("decay", ["softmax", "all"])
def test_stack_gradient_every_activation_and_dropout(activation, dropout, decay):
    rng = np.random.default_rng(5)
    X, y = rng.random((11, 6)), rng.integers(0, 3, 11)
    theta = rng.normal(0.0, 0.5, n_params((6, 5, 4, 3)))

    def fun(t):
        return stack_cost(
            t, X, y, (5, 4), 3, alpha=3e-3, decay=decay, activation=activation, dropout=dropout, dropout_seed=17
        )

    assert check_gradient(fun, theta, order=ORDER) < TOL


def test_default_calls_give_the_first_release_values():
    """Pinned from stackae 0.1.0 (before the options existed), same inputs."""
    rng = np.random.default_rng(2026)
    X = rng.random((9, 6))
    y = np.arange(9) % 3
    cost, grad = sparse_autoencoder_cost(
        init_theta((6, 4, 6), 7), X, 4, alpha=3e-3, sparsity_target=0.1, sparsity_weight=3.0
    )
    assert cost == pytest.approx(4.640583054970946, rel=1e-13)
    assert np.linalg.norm(grad) == pytest.approx(3.801041409316265, rel=1e-13)
    assert grad[5] == pytest.approx(0.6955762643973102, rel=1e-13)
    cost, grad = stack_cost(init_theta((6, 5, 4, 3), 7), X, y, (5, 4), 3, alpha=1e-4)
    assert cost == pytest.approx(1.1456521659393746, rel=1e-13)
    assert np.linalg.norm(grad) == pytest.approx(0.2738851696501962, rel=1e-13)
    assert grad[-1] == pytest.approx(-0.0840715138160438, rel=1e-13)


def test_target_equal_to_input_is_the_plain_autoencoder():
    rng = np.random.default_rng(1)
    X = rng.random((10, 5))
    theta = _ae_theta(5, 3, False, rng)
    kw = dict(alpha=1e-3, sparsity_target=0.1, sparsity_weight=3.0)
    c1, g1 = sparse_autoencoder_cost(theta, X, 3, **kw)
    c2, g2 = sparse_autoencoder_cost(theta, X, 3, target=X.copy(), **kw)
    assert c1 == c2
    np.testing.assert_array_equal(g1, g2)


def test_tied_equals_untied_with_w2_the_transpose():
    """A tied autoencoder is the untied one with W2 = W1^T; its W1 gradient is the sum of
    the untied gradient's W1 part and the transposed W2 part."""
    rng = np.random.default_rng(2)
    n, h = 5, 3
    X = rng.random((8, n))
    tied = _ae_theta(n, h, True, rng)
    W1, b1, b2 = tied[: n * h].reshape(n, h), tied[n * h : n * h + h], tied[n * h + h :]
    untied = np.concatenate([W1.ravel(), W1.T.ravel(), b1, b2])
    kw = dict(alpha=2e-3, sparsity_target=0.1, sparsity_weight=1.0)
    ct, gt = sparse_autoencoder_cost(tied, X, h, tied=True, **kw)
    cu, gu = sparse_autoencoder_cost(untied, X, h, **kw)
    # the untied cost counts the decay of W1 twice (W1 and W2 = W1^T); the tied once
    assert ct == pytest.approx(cu - 0.5 * 2e-3 * np.sum(W1**2), rel=1e-13)
    gW1 = gu[: n * h].reshape(n, h) + gu[n * h : 2 * n * h].reshape(h, n).T - 2e-3 * W1
    np.testing.assert_allclose(gt[: n * h].reshape(n, h), gW1, rtol=1e-12, atol=1e-15)
    np.testing.assert_allclose(gt[n * h :], gu[2 * n * h :], rtol=1e-12, atol=1e-15)


def test_contraction_penalty_is_the_jacobian_norm():
    """The contractive term equals (c/m) sum_i ||dh(x_i)/dx_i||_F^2 computed directly."""
    rng = np.random.default_rng(3)
    n, h, m, c = 4, 3, 6, 0.7
    X = rng.random((m, n))
    theta = _ae_theta(n, h, False, rng)
    kw = dict(alpha=0.0, sparsity_target=0.1, sparsity_weight=0.0, activation="tanh")
    base, _ = sparse_autoencoder_cost(theta, X, h, **kw)
    with_c, _ = sparse_autoencoder_cost(theta, X, h, contraction=c, **kw)
    W1, b1 = theta[: n * h].reshape(n, h), theta[2 * n * h : 2 * n * h + h]
    total = 0.0
    for x in X:
        hid = np.tanh(x @ W1 + b1)
        jacobian = (1 - hid**2)[:, None] * W1.T  # dh_j / dx_i
        total += np.sum(jacobian**2)
    assert with_c - base == pytest.approx(c * total / m, rel=1e-12)


def test_cross_entropy_is_finite_for_saturated_outputs():
    X = np.array([[0.0, 1.0, 1.0], [1.0, 0.0, 0.5]])
    theta = np.zeros(n_params((3, 2, 3)))
    theta[2 * 6 + 2 :] = np.array([1000.0, -1000.0, 0.0])  # outputs saturate at 1 and 0
    cost, grad = sparse_autoencoder_cost(
        theta, X, 2, alpha=0.0, sparsity_target=0.1, sparsity_weight=0.0, loss="cross_entropy"
    )
    assert np.isfinite(cost) and np.all(np.isfinite(grad))
    assert cost > 500  # the wrong saturated outputs cost about 1000 / 2 samples each


def test_dropout_masks_depend_on_the_seed_only_not_on_the_blocks():
    rng = np.random.default_rng(4)
    X, y = rng.random((300, 7)), rng.integers(0, 3, 300)
    theta = rng.normal(0.0, 0.5, n_params((7, 6, 5, 3)))

    def cost(seed):
        return stack_cost(theta, X, y, (6, 5), 3, alpha=0.0, dropout=(0.2, 0.5, 0.5), dropout_seed=seed)

    _tuning.set_block_rows(1000)
    try:
        one_block = cost(3)
        _tuning.set_block_rows(32)
        blocks = cost(3)
    finally:
        _tuning.set_block_rows(None)
    assert one_block[0] == pytest.approx(blocks[0], rel=1e-12)
    np.testing.assert_allclose(one_block[1], blocks[1], rtol=1e-10, atol=1e-14)
    assert cost(3)[0] == one_block[0]  # the same seed, the same masks
    assert cost(4)[0] != one_block[0]
    no_dropout = stack_cost(theta, X, y, (6, 5), 3, alpha=0.0)[0]
    assert no_dropout != one_block[0]


def test_dropout_keeps_the_documented_fraction():
    """Inverted dropout: a hidden unit is kept with probability 1 - p and scaled by 1/(1-p),
    so the mean of the mask is 1."""
    from stackae._random import philox_keep_mask

    mask = philox_keep_mask(7, 1, 0, (4000, 50), 0.3, np.float64)
    assert abs(np.mean(mask == 0) - 0.3) < 0.01
    assert set(np.unique(mask)) == {0.0, 1 / 0.7}
    assert abs(mask.mean() - 1.0) < 0.02
    # rows depend on their absolute index only
    np.testing.assert_array_equal(philox_keep_mask(7, 1, 100, (10, 50), 0.3, np.float64), mask[100:110])


@pytest.mark.parametrize(
    ("kwargs", "message"),
    [
        (
            {"activation": "relu"},
            r"^'sparsity_weight' must be 0 with activation='relu': the KL sparsity penalty needs mean "
            r"activations in \(0, 1\), which only sigmoid units have; got sparsity_weight=3\.0\.$",
        ),
        ({"activation": "softplus"}, r"^'activation' must be 'sigmoid', 'tanh' or 'relu', got 'softplus'\.$"),
        ({"output_activation": "tanh"}, r"^'output_activation' must be 'sigmoid' or 'linear', got 'tanh'\.$"),
        ({"loss": "l1"}, r"^'loss' must be 'squared' or 'cross_entropy', got 'l1'\.$"),
        (
            {"loss": "cross_entropy", "output_activation": "linear"},
            r"^loss='cross_entropy' needs output_activation='sigmoid' \(outputs in \(0, 1\)\), "
            r"got output_activation='linear'\.$",
        ),
        ({"contraction": -1.0}, r"^'contraction' must be a number >= 0\.0, got -1\.0\.$"),
        ({"target": np.zeros((2, 3))}, r"^'target' must have the shape of 'X', \(4, 3\), got \(2, 3\)\.$"),
    ],
)
def test_autoencoder_option_errors(kwargs, message):
    X = np.random.default_rng(0).random((4, 3))
    with pytest.raises(ValueError, match=message):
        sparse_autoencoder_cost(
            np.zeros(n_params((3, 2, 3))), X, 2, alpha=0.0, sparsity_target=0.1, sparsity_weight=3.0, **kwargs
        )


def test_tied_theta_length_message():
    with pytest.raises(
        ValueError, match=r"^'theta' must have shape \(11,\) for a tied 3-2-3 autoencoder, got \(21,\)\.$"
    ):
        sparse_autoencoder_cost(
            np.zeros(21), np.zeros((2, 3)), 2, alpha=0, sparsity_target=0.1, sparsity_weight=0, tied=True
        )


@pytest.mark.parametrize(
    ("dropout", "message"),
    [
        (1.0, r"^'dropout' must be a number in \[0, 1\), got 1\.0\.$"),
        (
            (0.1, 0.2),
            r"^'dropout' must be a number in \[0, 1\) or a sequence of 3 numbers \(the input, then each hidden layer\), got \(0\.1, 0\.2\)\.$",
        ),
    ],
)
def test_dropout_errors(dropout, message):
    with pytest.raises(ValueError, match=message):
        stack_cost(
            np.zeros(n_params((3, 2, 2, 2))), np.zeros((2, 3)), np.array([0, 1]), (2, 2), 2, alpha=0.0, dropout=dropout
        )


# ------------------------------------------------------------------ adversarial training
@pytest.mark.parametrize("activation", ["sigmoid", "tanh", "relu"])
@pytest.mark.parametrize("dropout", [0.0, (0.2, 0.5, 0.3)])
@pytest.mark.parametrize("weight", [0.5, 1.0])
def test_stack_gradient_with_adversarial_training(activation, dropout, weight):
    # the objective is not differentiable where a z of either pass is 0 (ReLU) or a
    # component of dJ/dX changes sign: a seed whose points are 2 epsilon clear of both
    rng = np.random.default_rng(10)
    X, y = rng.random((11, 6)), rng.integers(0, 3, 11)
    theta = rng.normal(0.0, 0.5, n_params((6, 5, 4, 3)))

    def fun(t):
        return stack_cost(
            t,
            X,
            y,
            (5, 4),
            3,
            alpha=3e-3,
            decay="all",
            activation=activation,
            dropout=dropout,
            dropout_seed=17,
            adversarial=0.1,
            adversarial_weight=weight,
        )

    assert check_gradient(fun, theta, order=ORDER) < TOL


def _input_gradient(theta, X, y, **kwargs):
    """dJ/dX by central differences (J is linear enough in one pixel at this step)."""
    G = np.zeros_like(X)
    h = 1e-6
    for index in np.ndindex(X.shape):
        plus, minus = X.copy(), X.copy()
        plus[index] += h
        minus[index] -= h
        G[index] = (stack_cost(theta, plus, y, **kwargs)[0] - stack_cost(theta, minus, y, **kwargs)[0]) / (2 * h)
    return G


@pytest.mark.parametrize("dropout", [0.0, (0.3, 0.5)])
def test_adversarial_cost_is_the_fast_gradient_sign_method(dropout):
    """(1 - w) J(X) + w J(X + eps sign(dJ/dX)), both with the same masks, against J
    evaluated at rows perturbed by the numerical input gradient's sign."""
    rng = np.random.default_rng(3)
    X, y = rng.random((9, 5)), rng.integers(0, 3, 9)
    theta = rng.normal(0.0, 0.7, n_params((5, 4, 3)))
    common = dict(hidden_layer_sizes=(4,), n_classes=3, alpha=1e-3, activation="relu", dropout=dropout, dropout_seed=5)
    G = _input_gradient(theta, X, y, **common)
    # a dropped input has no gradient; every other one has a clear sign
    assert np.all((np.abs(G) > 1e-7) | (G == 0))
    eps, w = 0.15, 0.3
    clean_cost, clean_grad = stack_cost(theta, X, y, **common)
    adv_cost, adv_grad = stack_cost(theta, X + eps * np.sign(G), y, **common)
    cost, grad = stack_cost(theta, X, y, **common, adversarial=eps, adversarial_weight=w)
    # the weight decay is counted once, not per term: it is the same in both
    assert cost == pytest.approx((1 - w) * clean_cost + w * adv_cost, rel=1e-12)
    np.testing.assert_allclose(grad, (1 - w) * clean_grad + w * adv_grad, rtol=1e-10, atol=1e-14)
    assert adv_cost > clean_cost  # the perturbation raises the cost, as it should


def test_adversarial_training_does_not_depend_on_the_blocks():
    rng = np.random.default_rng(9)
    X, y = rng.random((300, 7)), rng.integers(0, 3, 300)
    theta = rng.normal(0.0, 0.5, n_params((7, 6, 5, 3)))

    def cost():
        return stack_cost(theta, X, y, (6, 5), 3, alpha=1e-3, dropout=(0.2, 0.5, 0.5), dropout_seed=3, adversarial=0.2)

    _tuning.set_block_rows(1000)
    try:
        one_block = cost()
        _tuning.set_block_rows(32)
        blocks = cost()
    finally:
        _tuning.set_block_rows(None)
    assert one_block[0] == pytest.approx(blocks[0], rel=1e-12)
    np.testing.assert_allclose(one_block[1], blocks[1], rtol=1e-10, atol=1e-14)


def test_adversarial_zero_is_the_plain_stack():
    rng = np.random.default_rng(6)
    X, y = rng.random((10, 5)), rng.integers(0, 3, 10)
    theta = rng.normal(0.0, 0.5, n_params((5, 4, 3)))
    plain = stack_cost(theta, X, y, (4,), 3, alpha=1e-3, dropout=0.3, dropout_seed=2)
    zero = stack_cost(theta, X, y, (4,), 3, alpha=1e-3, dropout=0.3, dropout_seed=2, adversarial=0.0)
    assert plain[0] == zero[0]
    np.testing.assert_array_equal(plain[1], zero[1])


@pytest.mark.parametrize(
    ("kwargs", "message"),
    [
        ({"adversarial": -0.1}, r"^'adversarial' must be a finite number >= 0, got -0\.1\.$"),
        ({"adversarial": float("inf")}, r"^'adversarial' must be a finite number >= 0, got inf\.$"),
        (
            {"adversarial": 0.1, "adversarial_weight": 0.0},
            r"^'adversarial_weight' must be a number in \(0, 1\], got 0\.0\.$",
        ),
        ({"adversarial_weight": 1.5}, r"^'adversarial_weight' must be a number in \(0, 1\], got 1\.5\.$"),
    ],
)
def test_adversarial_errors(kwargs, message):
    with pytest.raises(ValueError, match=message):
        stack_cost(np.zeros(n_params((3, 2, 2))), np.zeros((2, 3)), np.array([0, 1]), (2,), 2, alpha=0.0, **kwargs)
