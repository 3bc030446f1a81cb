"""Minibatch solvers (SGD with momentum, Adam): accuracy on real data, float32 training,
reproducibility, parameter errors."""

from __future__ import annotations

import numpy as np
import pytest

from stackae import NonFiniteError, SoftmaxRegression, SparseAutoencoder, StackedAutoencoderClassifier
from stackae.datasets import load_digits_split
from stackae.optim import minibatch

FAST = dict(hidden_layer_sizes=(64, 32), alpha=1e-4, pretrain_max_iter=10, output_max_iter=10, batch_size=64)


@pytest.mark.parametrize(
    ("solver", "learning_rate", "epochs"),
    [("adam", 1e-2, 30), ("sgd", 0.3, 300)],
)
@pytest.mark.parametrize("dtype", [np.float64, np.float32])
def test_minibatch_solvers_reach_the_floor_in_both_dtypes(solver, learning_rate, epochs, dtype):
    data = load_digits_split(dtype=dtype)
    clf = StackedAutoencoderClassifier(
        **FAST, solver=solver, learning_rate=learning_rate, finetune_max_iter=epochs, random_state=0
    )
    clf.fit(data.X_train, data.y_train)
    assert all(W.dtype == dtype for W in clf.coefs_)
    assert clf.score(data.X_test, data.y_test) >= 0.96
    assert clf.n_iter_ == {"pretrain layer 1": 10, "pretrain layer 2": 10, "softmax": 10, "finetune": epochs}
    assert len(clf.loss_curve_["finetune"]) == epochs
    assert clf.loss_curve_["finetune"][-1] < clf.loss_curve_["finetune"][0]


def test_minibatch_training_is_reproducible():
    data = load_digits_split(dtype=np.float32)
    params = dict(FAST, solver="adam", finetune_max_iter=3, random_state=7)
    a = StackedAutoencoderClassifier(**params).fit(data.X_train, data.y_train)
    b = StackedAutoencoderClassifier(**params).fit(data.X_train, data.y_train)
    for Wa, Wb in zip(a.coefs_, b.coefs_):
        np.testing.assert_array_equal(Wa, Wb)


def test_building_blocks_take_a_solver():
    data = load_digits_split()
    ae = SparseAutoencoder(32, alpha=1e-4, solver="adam", max_iter=5, random_state=0).fit(data.X_train)
    assert ae.n_iter_ == 5 and len(ae.loss_curve_) == 5
    softmax = SoftmaxRegression(solver="sgd", max_iter=20, batch_size=32, random_state=0)
    softmax.fit(data.X_train, data.y_train)
    assert softmax.score(data.X_test, data.y_test) >= 0.9


@pytest.mark.parametrize(
    ("params", "message"),
    [
        ({"solver": "newton"}, r"^'solver' must be 'lbfgs', 'sgd' or 'adam', got 'newton'\.$"),
        ({"batch_size": 0}, r"^'batch_size' must be an integer >= 1, got 0\.$"),
        ({"learning_rate": 0.0}, r"^'learning_rate' must be a number > 0\.0, got 0\.0\.$"),
    ],
)
def test_solver_parameter_errors(params, message):
    with pytest.raises(ValueError, match=message):
        SoftmaxRegression(**params).fit(np.random.rand(6, 2), np.arange(6) % 2)


def test_minibatch_stops_on_non_finite_gradient():
    def explodes(theta, rows):
        return float(np.sum(theta**2)), np.full_like(theta, np.inf) if theta[0] > 0.5 else -np.ones_like(theta)

    with pytest.raises(
        NonFiniteError,
        match=r"^Training stage 'demo' produced a non-finite gradient in epoch \d+\. Try a smaller learning rate",
    ) as info:
        minibatch(
            explodes,
            np.zeros(3),
            10,
            solver="sgd",
            max_iter=50,
            batch_size=5,
            learning_rate=0.1,
            rng=np.random.default_rng(0),
            stage="demo",
        )
    assert np.all(np.isfinite(info.value.theta))


def test_minibatch_stops_on_non_finite_cost_with_the_last_whole_epoch():
    """The check runs once an epoch: a cost that turns NaN in epoch 3 (theta finite)
    names the cost, and the error carries theta as epoch 2 left it."""
    seen = []

    def fun(theta, rows):
        seen.append(theta.copy())
        return (np.nan if len(seen) > 4 else float(np.sum(theta**2))), theta - 1.0

    with pytest.raises(
        NonFiniteError, match=r"^Training stage 'demo' produced a non-finite cost in epoch 3\. Try"
    ) as info:
        minibatch(
            fun,
            np.zeros(3),
            4,
            solver="sgd",
            max_iter=5,
            batch_size=2,
            learning_rate=0.1,
            rng=np.random.default_rng(0),
            stage="demo",
        )
    assert info.value.iteration == 2
    np.testing.assert_array_equal(info.value.theta, seen[4])  # the start of epoch 3
    assert len(seen) == 6  # epoch 3 ran to its end


def test_minibatch_ctrl_c_returns_last_whole_epoch():
    calls = []

    def fun(theta, rows):
        calls.append(1)
        if len(calls) == 7:
            raise KeyboardInterrupt
        return float(np.sum((theta - 1) ** 2)), 2 * (theta - 1)

    result = minibatch(
        fun, np.zeros(2), 10, solver="adam", max_iter=10, batch_size=5, learning_rate=0.1, rng=np.random.default_rng(0)
    )
    assert result.interrupted and result.n_iter == 3 and len(result.loss_curve) == 3
