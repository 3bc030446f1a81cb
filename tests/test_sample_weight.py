"""Row weights: integer weights equal repeated rows (objectives on every engine, and
whole fits), gradients by central differences, class weights, zero weights, errors."""

from __future__ import annotations

import warnings

import numpy as np
import pytest
from sklearn.exceptions import ConvergenceWarning

from stackae import (
    SoftmaxRegression,
    SparseAutoencoder,
    StackedAutoencoder,
    StackedAutoencoderClassifier,
    StackedAutoencoderRegressor,
    init_theta,
    n_params,
)
from stackae.datasets import load_digits_split
from stackae.gradcheck import check_gradient
from stackae.heads import SquaredErrorHead, reconstruction_head
from stackae.objectives import sparse_autoencoder_cost, stack_cost


@pytest.fixture(autouse=True)
def _quiet():
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", ConvergenceWarning)
        yield


def _weighted_problem(seed=0, m=11, n=6):
    rng = np.random.default_rng(seed)
    X = rng.random((m, n))
    w = rng.integers(0, 4, m).astype(float)
    w[0] = 2.0
    counts = w.astype(int)
    return rng, X, w, counts


STACKS = {
    "softmax": (None, "labels", 3),
    "softmax, tanh, decay all": (None, "labels", 3),
    "regression": (SquaredErrorHead(), "targets", 2),
    "reconstruction": (reconstruction_head("sigmoid", "cross_entropy"), None, 6),
}


def _stack_args(name, rng, m):
    head, kind, k = STACKS[name]
    y = rng.integers(0, k, m) if kind == "labels" else (rng.normal(size=(m, k)) if kind == "targets" else None)
    options = {"activation": "tanh", "decay": "all"} if "tanh" in name else {}
    if head is not None:
        options["head"] = head
    return y, k, options


def _engines():
    engines = [("numpy", lambda a: a)]
    try:
        import dask.array as da

        engines.append(("dask", lambda a: da.from_array(a, chunks=(4, -1)) if a.ndim == 2 else a))
    except ImportError:
        pass
    try:
        import torch

        engines.append(("torch", lambda a: torch.asarray(a)))
    except ImportError:
        pass
    return engines


def _host(a):
    return a.numpy() if hasattr(a, "numpy") else np.asarray(a)


@pytest.mark.parametrize("engine", [e for e, _ in _engines()])
@pytest.mark.parametrize("name", STACKS)
def test_stack_integer_weights_equal_repeated_rows(name, engine):
    rng, X, w, counts = _weighted_problem()
    y, k, options = _stack_args(name, rng, X.shape[0])
    theta = rng.normal(0.0, 0.5, n_params((6, 5, 4, k)))
    repeated_y = None if y is None else np.repeat(y, counts, axis=0)
    ref = stack_cost(theta, np.repeat(X, counts, axis=0), repeated_y, (5, 4), k, alpha=1e-3, **options)
    convert = dict(_engines())[engine]
    targets = (
        None if y is None else (y if engine == "dask" or y.dtype.kind == "i" and engine != "torch" else convert(y))
    )
    got = stack_cost(convert(theta) if engine == "torch" else theta, convert(X), targets, (5, 4), k, alpha=1e-3,
                     sample_weight=w, **options)  # fmt: skip
    assert got[0] == pytest.approx(ref[0], rel=1e-12)
    np.testing.assert_allclose(_host(got[1]), ref[1], rtol=1e-10, atol=1e-14)


@pytest.mark.parametrize("engine", [e for e, _ in _engines()])
@pytest.mark.parametrize(
    "options",
    [{}, {"contraction": 0.3}, {"tied": True, "loss": "cross_entropy"}],
    ids=["sparse", "contractive", "tied cross-entropy"],
)
def test_autoencoder_integer_weights_equal_repeated_rows(options, engine):
    rng, X, w, counts = _weighted_problem(1)
    theta = init_theta((6, 4, 6), rng, tied=options.get("tied", False)) + 0.05
    convert = dict(_engines())[engine]

    def cost(t, XX, ww=None):
        return sparse_autoencoder_cost(
            t, XX, 4, alpha=1e-3, sparsity_target=0.1, sparsity_weight=3.0, sample_weight=ww, **options
        )

    ref = cost(theta, np.repeat(X, counts, axis=0))
    got = cost(convert(theta) if engine == "torch" else theta, convert(X), w)
    assert got[0] == pytest.approx(ref[0], rel=1e-12)
    np.testing.assert_allclose(_host(got[1]), ref[1], rtol=1e-10, atol=1e-14)


@pytest.mark.parametrize("name", STACKS)
def test_weighted_gradients(name):
    rng, X, w, _ = _weighted_problem(2)
    w += rng.random(w.size)  # not only integers
    y, k, options = _stack_args(name, rng, X.shape[0])
    theta = rng.normal(0.0, 0.5, n_params((6, 5, 4, k)))
    fun = lambda t: stack_cost(t, X, y, (5, 4), k, alpha=1e-3, sample_weight=w, **options)  # noqa: E731
    assert check_gradient(fun, theta, order=4) < 1e-9
    theta = init_theta((6, 4, 6), rng) + 0.05
    fun = lambda t: sparse_autoencoder_cost(  # noqa: E731
        t, X, 4, alpha=1e-3, sparsity_target=0.1, sparsity_weight=3.0, contraction=0.2, sample_weight=w
    )
    assert check_gradient(fun, theta, order=4) < 1e-9


QUICK = dict(alpha=1e-4, pretrain_max_iter=15, finetune_max_iter=15, random_state=0)


@pytest.mark.parametrize("cls", [StackedAutoencoderClassifier, StackedAutoencoderRegressor, StackedAutoencoder])
def test_fits_with_integer_weights_equal_fits_on_repeated_rows(cls):
    data = load_digits_split()
    X, y = data.X_train[:300], data.y_train[:300]
    counts = np.random.default_rng(0).integers(0, 3, X.shape[0])
    params = dict(QUICK, **({"output_max_iter": 15} if cls is StackedAutoencoderClassifier else {}))
    if cls is StackedAutoencoderRegressor:
        # its fine-tuning is far from converged after a few iterations, where L-BFGS's path
        # is most sensitive: the output stage's costs differ by 4e-10 after its 72
        # iterations, the predictions by 1e-4 after 5 of fine-tuning and 0.06 after 15
        params["finetune_max_iter"] = 5
    target = y.astype(float) if cls is StackedAutoencoderRegressor else y
    weighted = cls((16,), **params).fit(X, target, sample_weight=counts.astype(float))
    repeated = cls((16,), **params).fit(np.repeat(X, counts, axis=0), np.repeat(target, counts))
    # the same objective to rounding at every step; rounding grows over three stages of
    # L-BFGS, so the outputs are compared
    X_test = data.X_test
    if cls is StackedAutoencoderClassifier:
        np.testing.assert_allclose(weighted.predict_proba(X_test), repeated.predict_proba(X_test), atol=1e-5)
    elif cls is StackedAutoencoderRegressor:
        np.testing.assert_allclose(weighted.predict(X_test), repeated.predict(X_test), atol=1e-3)
    else:
        np.testing.assert_allclose(weighted.reconstruct(X_test), repeated.reconstruct(X_test), atol=1e-5)


def test_single_stage_models_with_integer_weights_equal_repeated_rows():
    data = load_digits_split()
    X, y = data.X_train[:200], data.y_train[:200]
    counts = np.random.default_rng(1).integers(0, 3, X.shape[0])
    for est in (
        SparseAutoencoder(8, alpha=1e-4, max_iter=20, random_state=0),
        SoftmaxRegression(max_iter=20, random_state=0),
    ):
        weighted = est.fit(X, y, sample_weight=counts).coefs_
        repeated = est.fit(np.repeat(X, counts, axis=0), np.repeat(y, counts)).coefs_
        for W, V in zip(weighted, repeated):
            np.testing.assert_allclose(W, V, rtol=1e-6, atol=1e-9)


def test_minibatch_training_with_weights():
    data = load_digits_split()
    params = dict(
        alpha=1e-4, solver="adam", learning_rate=1e-2, batch_size=64, pretrain_max_iter=5, output_max_iter=5,
        finetune_max_iter=30, random_state=0,
    )  # fmt: skip
    plain = StackedAutoencoderClassifier((32,), **params).fit(data.X_train, data.y_train)
    w = np.where(data.y_train == 3, 3.0, 1.0)
    weighted = StackedAutoencoderClassifier((32,), **params, early_stopping=True).fit(
        data.X_train, data.y_train, sample_weight=w
    )
    assert weighted.score(data.X_test, data.y_test) >= plain.score(data.X_test, data.y_test) - 0.05
    threes = data.y_test == 3
    assert np.mean(weighted.predict(data.X_test[threes]) == 3) >= np.mean(plain.predict(data.X_test[threes]) == 3)


def test_class_weight_balanced_lifts_a_rare_class():
    data = load_digits_split()
    keep = (data.y_train != 8) | (np.cumsum(data.y_train == 8) <= 8)  # 8 of the 8s left
    X, y = data.X_train[keep], data.y_train[keep]
    params = dict(QUICK, output_max_iter=30, finetune_max_iter=30)
    plain = StackedAutoencoderClassifier((24,), **params).fit(X, y)
    balanced = StackedAutoencoderClassifier((24,), **params, class_weight="balanced").fit(X, y)
    eights = data.y_test == 8
    assert np.mean(balanced.predict(data.X_test[eights]) == 8) > np.mean(plain.predict(data.X_test[eights]) == 8)


def test_zero_weights_drop_rows():
    data = load_digits_split()
    X, y = data.X_train[:200], data.y_train[:200]
    w = np.ones(200)
    w[::3] = 0.0
    dropped = SoftmaxRegression(max_iter=20, random_state=0).fit(X[w > 0], y[w > 0]).coefs_[0]
    zeroed = SoftmaxRegression(max_iter=20, random_state=0).fit(X, y, sample_weight=w).coefs_[0]
    np.testing.assert_allclose(zeroed, dropped, rtol=1e-6, atol=1e-9)


@pytest.mark.parametrize(
    ("weights", "message"),
    [
        (np.ones(3), r"^'sample_weight' must have shape \(20,\), one weight per row, got \(3,\)\.$"),
        (np.r_[-1.0, np.ones(19)], r"^'sample_weight' must hold finite numbers >= 0\.$"),
        (np.r_[np.nan, np.ones(19)], r"^'sample_weight' must hold finite numbers >= 0\.$"),
        (np.zeros(20), r"^'sample_weight' must not be all zero: no row would count\.$"),
    ],
)
def test_bad_weights_are_refused(weights, message):
    X, y = np.random.default_rng(0).random((20, 4)), np.arange(20) % 2
    with pytest.raises(ValueError, match=message):
        StackedAutoencoderClassifier((3,), pretrain_max_iter=1, output_max_iter=1, finetune_max_iter=1).fit(
            X, y, sample_weight=weights
        )
    with pytest.raises(ValueError, match=message):
        stack_cost(np.zeros(n_params((4, 3, 2))), X, y, (3,), 2, alpha=0.0, sample_weight=weights)
