"""Denoising corruption (each kind touches the documented fraction), early stopping
(the best weights on the validation split are the ones kept), and the estimators'
options for both."""

from __future__ import annotations

import warnings

import numpy as np
import pytest
from sklearn.exceptions import ConvergenceWarning
from sklearn.utils import check_random_state

from stackae import SoftmaxRegression, SparseAutoencoder, StackedAutoencoderClassifier
from stackae.datasets import load_digits_split
from stackae.estimators._data import split_validation
from stackae.estimators._stages import EarlyStopping
from stackae.noise import corrupt
from stackae.optim import lbfgs, minibatch


@pytest.fixture(scope="module")
def digits():
    return load_digits_split()


# ------------------------------------------------------------------------- noise
@pytest.mark.parametrize("level", [0.1, 0.3])
def test_masking_zeroes_the_documented_fraction(level):
    X = np.random.default_rng(0).uniform(0.1, 1.0, (400, 250))  # no zeros to start with
    Xc = corrupt(X, "masking", level, 0)
    changed = Xc != X
    assert abs(changed.mean() - level) < 0.01
    assert np.all(Xc[changed] == 0.0)
    np.testing.assert_array_equal(Xc[~changed], X[~changed])


@pytest.mark.parametrize("dtype", [np.float32, np.float64])
@pytest.mark.parametrize(
    "level", [0.0, 2.0**-24, 0.1, 0.2, 0.3, 0.5, np.float32(0.3), np.float64(0.7), 1.0 - 2.0**-30, 1.0]
)
def test_masking_draws_the_numbers_it_compares_without_making_them(level, dtype):
    # philox_below compares the raw words with an integer threshold: the same booleans
    # as the uniform numbers compared with the level, so the noise is what it was
    from stackae._random import philox_below, philox_uniform

    fast = philox_below(3, 0, 17, (64, 300), level, dtype)
    np.testing.assert_array_equal(fast, philox_uniform(3, 0, 17, (64, 300), dtype) < level)
    X = np.random.default_rng(4).uniform(0.1, 1.0, (64, 300)).astype(dtype)
    np.testing.assert_array_equal(corrupt(X, "masking", level, 3, start=17) if level else X, np.where(fast, 0, X))


@pytest.mark.parametrize("level", [0.1, 0.4])
def test_salt_and_pepper_sets_the_documented_fraction_to_0_or_1(level):
    X = np.random.default_rng(1).uniform(0.1, 0.9, (400, 250))
    Xc = corrupt(X, "salt_and_pepper", level, 0)
    changed = Xc != X
    assert abs(changed.mean() - level) < 0.01
    salt = Xc[changed] == 1.0
    assert np.all(salt | (Xc[changed] == 0.0))
    assert abs(salt.mean() - 0.5) < 0.03


def test_gaussian_noise_has_the_documented_deviation():
    X = np.zeros((500, 200))
    Xc = corrupt(X, "gaussian", 0.25, 0)
    assert abs(Xc.std() - 0.25) < 0.005
    assert abs(Xc.mean()) < 0.005


def test_corruption_is_reproducible_and_leaves_the_input_alone():
    X = np.random.default_rng(2).random((30, 10))
    before = X.copy()
    np.testing.assert_array_equal(corrupt(X, "masking", 0.3, 5), corrupt(X, "masking", 0.3, 5))
    assert not np.array_equal(corrupt(X, "masking", 0.3, 5), corrupt(X, "masking", 0.3, 6))
    np.testing.assert_array_equal(X, before)
    assert corrupt(X, None, 0.3, 0) is X and corrupt(X, "masking", 0.0, 0) is X


@pytest.mark.parametrize(
    ("params", "message"),
    [
        ({"noise": "dropout"}, r"^'noise' must be None, 'masking', 'gaussian' or 'salt_and_pepper', got 'dropout'\.$"),
        ({"noise": "masking", "noise_level": 1.5}, r"^'noise_level' must be a number in \[0, 1\], got 1\.5\.$"),
    ],
)
def test_noise_parameter_errors(params, message):
    with pytest.raises(ValueError, match=message):
        SparseAutoencoder(3, **params).fit(np.random.rand(10, 4))


def test_noise_level_per_layer_must_match_the_layers():
    with pytest.raises(
        ValueError,
        match=r"^'noise_level' must be a number in \[0, 1\], or a sequence of 2 such numbers \(one per layer\), got \[0\.1, 0\.2, 0\.3\]\.$",
    ):
        StackedAutoencoderClassifier((4, 3), noise="masking", noise_level=[0.1, 0.2, 0.3]).fit(
            np.random.rand(10, 4), np.arange(10) % 2
        )


def test_denoising_autoencoders_train_with_either_solver(digits):
    for solver, max_iter in (("lbfgs", 60), ("adam", 20)):
        ae = SparseAutoencoder(
            32,
            alpha=1e-4,
            noise="masking",
            noise_level=0.3,
            tied_weights=True,
            reconstruction_loss="cross_entropy",
            solver=solver,
            learning_rate=1e-2,
            batch_size=64,
            max_iter=max_iter,
            random_state=0,
        )
        with warnings.catch_warnings():
            warnings.simplefilter("ignore", ConvergenceWarning)
            ae.fit(digits.X_train)
        assert ae.coefs_[1].shape == (32, 64)
        np.testing.assert_array_equal(ae.coefs_[1], ae.coefs_[0].T)  # tied
        error = np.mean((ae.inverse_transform(ae.transform(digits.X_test)) - digits.X_test) ** 2)
        assert error < 0.5 * np.mean((digits.X_train.mean(axis=0) - digits.X_test) ** 2)


# ---------------------------------------------------------------- early stopping
def _path_problem():
    """Gradient descent from 0 runs straight to (10, 10, ...); the validation score is
    best at the point 3 of the way: it rises, then falls."""
    target = np.full(4, 10.0)
    best = np.full(4, 3.0)

    def fun(theta, rows=None):
        return float(np.sum((theta - target) ** 2)), 2 * (theta - target)

    def score(theta):
        return -float(np.sum((theta - best) ** 2))

    return fun, score, best


def test_early_stopping_keeps_the_best_not_the_last_minibatch():
    fun, score, best = _path_problem()
    monitor = EarlyStopping(score, patience=3)
    result = minibatch(
        fun,
        np.zeros(4),
        10,
        solver="sgd",
        max_iter=200,
        batch_size=10,
        learning_rate=0.01,
        momentum=0.0,
        rng=np.random.RandomState(0),
        monitor=monitor,
    )
    assert result.stopped_early and result.n_iter < 200
    last_score = monitor.scores[-1]
    result = monitor.restore(result)
    assert score(result.theta) == monitor.best_score == max(monitor.scores)
    assert monitor.best_score > last_score  # keeping the last would have been worse
    assert np.abs(result.theta - best).max() < 0.5


def test_early_stopping_keeps_the_best_not_the_last_lbfgs():
    fun, score, _ = _path_problem()
    target = np.linspace(1.0, 10.0, 4)

    def curved(theta):  # an ill-conditioned bowl: L-BFGS takes several steps
        d = theta - target
        w = np.array([1.0, 10.0, 100.0, 1000.0])
        return float(np.sum(w * d * d)), 2 * w * d

    monitor = EarlyStopping(score, patience=2)
    result = lbfgs(curved, np.zeros(4), max_iter=100, monitor=monitor)
    assert result.stopped_early
    result = monitor.restore(result)
    assert score(result.theta) == max(monitor.scores)
    assert max(monitor.scores) > monitor.scores[-1]


def test_estimator_keeps_the_weights_of_its_best_validation_score(digits):
    clf = SoftmaxRegression(
        solver="adam", learning_rate=0.05, max_iter=60, early_stopping=True, n_iter_no_change=4, random_state=0
    )
    clf.fit(digits.X_train, digits.y_train)
    assert clf.best_validation_score_ == max(clf.validation_scores_)
    assert len(clf.validation_scores_) == clf.n_iter_
    # the same split, drawn the same way: the kept weights score the best score there
    rng = check_random_state(0)
    _, _, X_val, y_val, _ = split_validation(digits.X_train, digits.y_train, 0.1, rng, stratify=True)
    assert clf.score(X_val, y_val) == pytest.approx(clf.best_validation_score_)


def test_every_stage_stops_early_with_its_own_scores(digits):
    clf = StackedAutoencoderClassifier(
        (32,),
        alpha=1e-4,
        solver="adam",
        learning_rate=1e-2,
        batch_size=64,
        pretrain_max_iter=30,
        output_max_iter=30,
        finetune_max_iter=30,
        early_stopping=True,
        n_iter_no_change=3,
        random_state=0,
    )
    clf.fit(digits.X_train, digits.y_train)
    assert list(clf.validation_scores_) == ["pretrain layer 1", "softmax", "finetune"]
    assert clf.validation_scores_["pretrain layer 1"][0] < 0  # minus a reconstruction loss
    assert 0.9 <= clf.best_validation_score_["finetune"] <= 1.0  # an accuracy
    for stage, scores in clf.validation_scores_.items():
        assert clf.best_validation_score_[stage] == max(scores)
    assert clf.score(digits.X_test, digits.y_test) >= 0.95


def test_early_stopping_parameter_errors():
    with pytest.raises(ValueError, match=r"^'validation_fraction' must be a number in \(0\.0, 1\.0\), got 1\.0\.$"):
        SoftmaxRegression(early_stopping=True, validation_fraction=1.0).fit(np.random.rand(10, 2), np.arange(10) % 2)
    with pytest.raises(ValueError, match=r"^'n_iter_no_change' must be an integer >= 1, got 0\.$"):
        SoftmaxRegression(early_stopping=True, n_iter_no_change=0).fit(np.random.rand(10, 2), np.arange(10) % 2)


def test_max_norm_caps_every_hidden_unit_and_dropout_trains(digits):
    clf = StackedAutoencoderClassifier(
        (32, 16),
        activation="relu",
        sparsity_weight=0.0,
        alpha=1e-4,
        solver="sgd",
        nesterovs_momentum=True,
        learning_rate=0.01,  # pretraining ReLU autoencoders with linear outputs needs small steps
        finetune_learning_rate=0.1,
        learning_rate_schedule="cosine",
        batch_size=64,
        pretrain_max_iter=3,
        output_max_iter=3,
        finetune_max_iter=40,
        dropout=(0.1, 0.3, 0.3),
        max_norm=1.5,
        random_state=0,
    )
    clf.fit(digits.X_train, digits.y_train)
    for W in clf.coefs_[:-1]:  # the hidden layers' incoming weights, unit by unit
        assert np.linalg.norm(W, axis=0).max() <= 1.5 * (1 + 1e-6)
    assert np.linalg.norm(clf.coefs_[-1], axis=0).max() > 0  # the softmax is left free
    assert clf.score(digits.X_test, digits.y_test) >= 0.95


def test_adversarial_training_lowers_the_cost_of_adversarial_examples(digits):
    """Fine-tuned with the fast gradient sign method, the network pays less on the test
    rows moved against it (the same perturbation size) than the one fine-tuned without,
    and still classifies the clean rows."""
    from stackae import pack
    from stackae.objectives import stack_cost

    eps = 0.1  # the digits' pixels are in [0, 1]
    base = dict(
        hidden_layer_sizes=(32,),
        activation="relu",
        sparsity_weight=0.0,
        alpha=1e-4,
        solver="sgd",
        nesterovs_momentum=True,
        learning_rate=0.01,
        finetune_learning_rate=0.05,
        batch_size=64,
        pretrain_max_iter=2,
        output_max_iter=2,
        finetune_max_iter=30,
        random_state=0,
    )
    costs = {}
    for epsilon in (0.0, eps):
        clf = StackedAutoencoderClassifier(**base, adversarial=epsilon).fit(digits.X_train, digits.y_train)
        assert clf.score(digits.X_test, digits.y_test) >= 0.95
        theta = pack(clf.coefs_, clf.intercepts_)
        costs[epsilon] = stack_cost(
            theta,
            digits.X_test,
            digits.y_test,
            (32,),
            10,
            alpha=0.0,
            activation="relu",
            adversarial=eps,
            adversarial_weight=1.0,
        )[0]
    assert costs[eps] < 0.5 * costs[0.0]


def test_adversarial_parameter_errors():
    with pytest.raises(ValueError, match=r"^'adversarial' must be a finite number >= 0, got -1\.0\.$"):
        StackedAutoencoderClassifier((4,), adversarial=-1.0).fit(np.random.rand(10, 3), np.arange(10) % 2)
    with pytest.raises(ValueError, match=r"^'adversarial_weight' must be a number in \(0, 1\], got 2\.0\.$"):
        StackedAutoencoderClassifier((4,), adversarial_weight=2.0).fit(np.random.rand(10, 3), np.arange(10) % 2)


def test_max_norm_needs_a_minibatch_solver():
    with pytest.raises(
        ValueError, match=r"^'max_norm' needs solver='sgd' or 'adam' \(it projects the weights after every step\)\.$"
    ):
        StackedAutoencoderClassifier((4,), max_norm=2.0).fit(np.random.rand(10, 3), np.arange(10) % 2)


def test_denoising_noise_is_a_kernel_operation_keyed_by_rows():
    """Each block corrupts its own rows (no corrupted copy of X): the objective equals the
    one on a copy corrupted whole with the same seed, whatever the blocks, threads or
    chunks."""
    from dataclasses import replace

    from stackae import _rows, init_theta
    from stackae.noise import corrupt
    from stackae.objectives import autoencoder_cost_grad, autoencoder_spec, sparse_autoencoder_cost

    rng = np.random.default_rng(0)
    X = rng.random((300, 12))
    theta = init_theta((12, 5, 12), rng) + 0.05
    options = dict(tied=False, activation="sigmoid", output_activation="sigmoid", loss="squared")
    spec = autoencoder_spec(12, 5, **options, sparsity_target=0.1, sparsity_weight=3.0, contraction=0.1)
    for kind, level in (("masking", 0.3), ("gaussian", 0.2), ("salt_and_pepper", 0.1)):
        noisy = replace(spec, noise=kind, noise_level=level, noise_seed=7)
        ref = sparse_autoencoder_cost(
            theta, corrupt(X, kind, level, 7), 5, alpha=1e-3, sparsity_target=0.1, sparsity_weight=3.0,
            target=X, contraction=0.1,
        )  # fmt: skip
        for block_rows, threads in ((None, None), (37, 2), (300, 1)):
            rows = _rows.NumpyRows(X, block_rows=block_rows, n_threads=threads, widths=(5,))
            cost, grad = autoencoder_cost_grad(rows, theta, noisy, 1e-3)
            assert cost == pytest.approx(ref[0], rel=1e-12)
            np.testing.assert_allclose(grad, ref[1], rtol=1e-10, atol=1e-14)
        da = pytest.importorskip("dask.array")
        cost, grad = autoencoder_cost_grad(_rows.rows_of(da.from_array(X, chunks=(70, -1))), theta, noisy, 1e-3)
        assert cost == pytest.approx(ref[0], rel=1e-12)
