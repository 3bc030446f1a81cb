"""Estimators on real data (the embedded 8x8 digits): accuracy floors, stages, dtypes,
warnings and parameter errors."""

from __future__ import annotations

import warnings

import numpy as np
import pytest
from sklearn.exceptions import ConvergenceWarning

from conftest import MNIST_DIR
from stackae import CollapsedFeaturesWarning, SoftmaxRegression, SparseAutoencoder, StackedAutoencoderClassifier
from stackae.datasets import load_digits_split, load_mnist

# The CLI's preset for the digits (see stackae.cli.DATASET_PRESETS).
DIGITS_PARAMS = {"hidden_layer_sizes": (64, 32), "alpha": 1e-4, "random_state": 0}


@pytest.fixture(scope="module")
def digits():
    return load_digits_split()


@pytest.fixture(scope="module")
def digits32():
    return load_digits_split(dtype=np.float32)


def _fit_quietly(est, *args):
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", ConvergenceWarning)
        return est.fit(*args)


@pytest.fixture(scope="module")
def fitted_stack(digits):
    return _fit_quietly(StackedAutoencoderClassifier(**DIGITS_PARAMS), digits.X_train, digits.y_train)


def test_stack_reaches_accuracy_floors_and_finetuning_helps(fitted_stack, digits):
    before = np.mean(fitted_stack.predict(digits.X_test, pretrained=True) == digits.y_test)
    after = fitted_stack.score(digits.X_test, digits.y_test)
    assert before >= 0.93
    assert after >= 0.97
    assert after > before


def test_stack_records_every_stage(fitted_stack):
    stages = ["pretrain layer 1", "pretrain layer 2", "softmax", "finetune"]
    assert list(fitted_stack.stage_costs_) == stages
    assert list(fitted_stack.loss_curve_) == stages
    assert all(fitted_stack.n_iter_[s] >= 1 for s in stages)
    # fine-tuning starts from the pretrained network and only lowers the cost
    curve = fitted_stack.loss_curve_["finetune"]
    assert curve[-1] < curve[0]
    assert [W.shape for W in fitted_stack.coefs_] == [(64, 64), (64, 32), (32, 10)]
    assert [b.shape for b in fitted_stack.intercepts_] == [(64,), (32,), (10,)]
    assert fitted_stack.transform(np.zeros((2, 64)), layer=1).shape == (2, 64)
    assert fitted_stack.transform(np.zeros((2, 64))).shape == (2, 32)


def test_finetune_max_iter_zero_keeps_pretrained_network(digits):
    clf = _fit_quietly(
        StackedAutoencoderClassifier(
            (16,), pretrain_max_iter=30, output_max_iter=30, finetune_max_iter=0, random_state=1
        ),
        digits.X_train,
        digits.y_train,
    )
    for W, W0 in zip(clf.coefs_, clf.pretrained_coefs_):
        np.testing.assert_array_equal(W, W0)
    np.testing.assert_array_equal(clf.predict(digits.X_test), clf.predict(digits.X_test, pretrained=True))
    assert clf.n_iter_["finetune"] == 0


def test_same_random_state_same_model(digits):
    params = dict(hidden_layer_sizes=(8,), pretrain_max_iter=20, output_max_iter=20, finetune_max_iter=20)
    a = _fit_quietly(StackedAutoencoderClassifier(**params, random_state=3), digits.X_train, digits.y_train)
    b = _fit_quietly(StackedAutoencoderClassifier(**params, random_state=3), digits.X_train, digits.y_train)
    for Wa, Wb in zip(a.coefs_, b.coefs_):
        np.testing.assert_array_equal(Wa, Wb)


def test_float32_training_keeps_float32_and_reaches_the_floor(digits32):
    clf = _fit_quietly(StackedAutoencoderClassifier(**DIGITS_PARAMS), digits32.X_train, digits32.y_train)
    assert all(W.dtype == np.float32 for W in clf.coefs_)
    assert clf.predict_proba(digits32.X_test).dtype == np.float32
    assert clf.score(digits32.X_test, digits32.y_test) >= 0.97


def test_sparse_autoencoder_learns_to_reconstruct(digits):
    ae = _fit_quietly(SparseAutoencoder(32, alpha=1e-4, max_iter=100, random_state=0), digits.X_train)
    H = ae.transform(digits.X_test)
    assert H.shape == (digits.X_test.shape[0], 32)
    assert np.all((H > 0) & (H < 1))
    error = np.mean((ae.inverse_transform(H) - digits.X_test) ** 2)
    baseline = np.mean((digits.X_train.mean(axis=0) - digits.X_test) ** 2)
    assert error < 0.5 * baseline
    assert ae.loss_curve_[-1] < ae.loss_curve_[0]
    # the mean activation is pushed towards sparsity_target
    assert abs(H.mean() - 0.1) < 0.05


def test_softmax_regression_on_digits_with_string_labels(digits):
    names = np.array(["zero", "one", "two", "three", "four", "five", "six", "seven", "eight", "nine"])
    clf = _fit_quietly(SoftmaxRegression(random_state=0), digits.X_train, names[digits.y_train])
    assert list(clf.classes_) == sorted(names)
    assert clf.score(digits.X_test, names[digits.y_test]) >= 0.95
    P = clf.predict_proba(digits.X_test)
    np.testing.assert_allclose(P.sum(axis=1), 1.0)


def test_convergence_warning_names_stage_and_parameter(digits):
    with pytest.warns(
        ConvergenceWarning, match=r"^Stage 'softmax' reached max_iter=2 iterations without converging"
    ) as w:
        SoftmaxRegression(max_iter=2).fit(digits.X_train, digits.y_train)
    (warning,) = [x.message for x in w if isinstance(x.message, ConvergenceWarning)]
    assert (warning.stage, warning.param, warning.max_iter) == ("softmax", "max_iter", 2)  # for the command line's note


def test_collapsed_features_warning():
    X = np.tile(np.linspace(0, 1, 6), (20, 1))  # every sample the same
    with pytest.warns(
        CollapsedFeaturesWarning,
        match=r"every hidden unit outputs nearly the same value .* Try a smaller 'alpha' \(e\.g\. 1e-4\)",
    ):
        _fit_quietly(SparseAutoencoder(4, max_iter=50, random_state=0), X)


def test_a_collapse_from_too_large_a_step_advises_the_learning_rate(digits):
    stack = StackedAutoencoderClassifier((16,), solver="adam", learning_rate=10.0, pretrain_max_iter=3,
                                         output_max_iter=1, finetune_max_iter=1, random_state=0)  # fmt: skip
    with pytest.warns(CollapsedFeaturesWarning) as caught:
        _fit_quietly(stack, digits.X_train, digits.y_train)
    assert str(caught[0].message).endswith(
        "so the features carry no information. Try a smaller 'learning_rate' (it is 10; 0.001 is usual for "
        "solver='adam')."
    )


def test_warm_start_finetunes_existing_weights(digits):
    params = dict(hidden_layer_sizes=(16,), pretrain_max_iter=20, output_max_iter=20, random_state=0)
    clf = _fit_quietly(StackedAutoencoderClassifier(**params, finetune_max_iter=0), digits.X_train, digits.y_train)
    pretrained = [W.copy() for W in clf.coefs_]
    clf.set_params(warm_start=True, finetune_max_iter=50)
    _fit_quietly(clf, digits.X_train, digits.y_train)
    assert clf.n_iter_["finetune"] > 0
    assert not np.array_equal(clf.coefs_[0], pretrained[0])
    # the finetune stage started from the pretrained weights: its first cost is that network's
    assert clf.loss_curve_["finetune"][0] < clf.stage_costs_["softmax"] + 1.0


@pytest.mark.parametrize(
    ("params", "message"),
    [
        ({"sparsity_target": 1.5}, r"^'sparsity_target' must be a number in \(0\.0, 1\.0\), got 1\.5\.$"),
        ({"alpha": -1.0}, r"^'alpha' must be a number >= 0\.0, got -1\.0\.$"),
        ({"hidden_layer_sizes": (10, 0)}, r"^'hidden_layer_sizes' must be a non-empty sequence of positive integers"),
        ({"hidden_layer_sizes": (10, 2.5)}, r"^'hidden_layer_sizes' must be a non-empty sequence of positive integers"),
        ({"pretrain_max_iter": -1}, r"^'pretrain_max_iter' must be an integer >= 0, got -1\.$"),
        ({"finetune_decay": "none"}, r"^'finetune_decay' must be 'output' or 'all', got 'none'\.$"),
    ],
)
def test_parameter_errors(params, message):
    with pytest.raises(ValueError, match=message):
        StackedAutoencoderClassifier(**params).fit(np.random.rand(10, 3), np.arange(10) % 2)


def test_single_class_is_refused():
    with pytest.raises(
        ValueError,
        match=r"^StackedAutoencoderClassifier needs samples of at least 2 classes, got 1 class \(1\); "
        r"add samples of the other classes\.$",
    ):
        StackedAutoencoderClassifier((3,)).fit(np.random.rand(10, 3), np.ones(10, dtype=int))


@pytest.mark.slow
@pytest.mark.skipif(not MNIST_DIR.is_dir(), reason="the MNIST files are not in ../shared/data/mnist")
def test_ufldl_protocol_on_full_mnist():
    """UFLDL's exercise: 784-200-200-10, 400 L-BFGS iterations a stage (about 10 minutes)."""
    data = load_mnist(MNIST_DIR, dtype=np.float32)
    clf = _fit_quietly(StackedAutoencoderClassifier((200, 200), random_state=0), data.X_train, data.y_train)
    assert np.mean(clf.predict(data.X_test, pretrained=True) == data.y_test) >= 0.87
    assert clf.score(data.X_test, data.y_test) >= 0.976


def test_from_layers_finetunes_layers_pretrained_elsewhere(digits):
    ae = _fit_quietly(SparseAutoencoder(32, alpha=1e-4, max_iter=60, random_state=0), digits.X_train)
    features = ae.transform(digits.X_train)
    softmax = _fit_quietly(SoftmaxRegression(max_iter=100, random_state=0), features, digits.y_train)
    clf = StackedAutoencoderClassifier.from_layers([ae], softmax, finetune_max_iter=100, random_state=0)
    assert clf.hidden_layer_sizes == (32,) and clf.warm_start
    before = clf.score(digits.X_test, digits.y_test)
    assert before == softmax.score(ae.transform(digits.X_test), digits.y_test)
    _fit_quietly(clf, digits.X_train, digits.y_train)
    assert list(clf.n_iter_) == ["finetune"]
    assert clf.score(digits.X_test, digits.y_test) > before


def test_from_layers_checks_shapes():
    with pytest.raises(
        ValueError,
        match=r"^Layer 2 has weights of shape \(5, 3\) and biases of shape \(3,\); expected \(4, n_out\) and \(n_out,\)\.$",
    ):
        StackedAutoencoderClassifier.from_layers(
            [(np.zeros((6, 4)), np.zeros(4)), (np.zeros((5, 3)), np.zeros(3))], (np.zeros((3, 2)), np.zeros(2), [0, 1])
        )


def test_warm_start_with_other_architecture_is_refused(digits):
    clf = _fit_quietly(
        StackedAutoencoderClassifier((8,), pretrain_max_iter=5, output_max_iter=5, finetune_max_iter=5),
        digits.X_train,
        digits.y_train,
    )
    clf.set_params(warm_start=True, hidden_layer_sizes=(9,))
    with pytest.raises(
        ValueError, match=r"^warm_start=True needs the fitted hidden layer sizes \(8,\), got hidden_layer_sizes=\(9,\)"
    ):
        clf.fit(digits.X_train, digits.y_train)


def test_presets_build_the_documented_estimators():
    from stackae.presets import PRESETS

    make_estimator = StackedAutoencoderClassifier.from_preset

    fast = StackedAutoencoderClassifier.from_preset("fast", random_state=3)
    assert fast.get_params()["solver"] == "adam" and fast.finetune_max_iter == 20 and fast.random_state == 3
    assert make_estimator("ufldl").get_params() == StackedAutoencoderClassifier(**PRESETS["ufldl"]).get_params()
    best = make_estimator("best", finetune_max_iter=1)
    assert best.activation == "relu" and best.noise == "masking" and best.finetune_max_iter == 1
    with pytest.raises(
        ValueError,
        match=r"^Unknown preset 'fastest'; the presets are 'ufldl', 'fast', 'best', 'ladder', 'ladder-1000', "
        r"'ladder-100'\.$",
    ):
        make_estimator("fastest")


def test_cross_entropy_reconstruction_needs_inputs_in_the_unit_interval():
    import scipy.sparse as sp

    from stackae import SparseAutoencoder, StackedAutoencoder

    X = np.random.default_rng(0).random((30, 5))
    message = r"^reconstruction_loss='cross_entropy' needs inputs in \[0, 1\] .*got values in -1\.\.1; scale X"
    for bad in (np.vstack([X, -np.ones(5), np.ones(5)]), sp.csr_matrix(np.vstack([X * 0, -np.ones(5)]))):
        for est in (
            SparseAutoencoder(3, reconstruction_loss="cross_entropy"),
            StackedAutoencoder((3,), reconstruction_loss="cross_entropy"),
        ):
            with pytest.raises(ValueError, match=message if not sp.issparse(bad) else r"got values in -1\.\.0;"):
                est.fit(bad)
    with pytest.raises(
        ValueError, match=r"^reconstruction_loss='cross_entropy' with activation='tanh' gives the autoencoders above"
    ):
        StackedAutoencoderClassifier(
            (4, 3), activation="tanh", sparsity_weight=0.0, reconstruction_loss="cross_entropy"
        ).fit(X, np.arange(30) % 2)


def test_a_network_too_large_for_memory_is_refused_before_any_work(monkeypatch):
    from stackae.estimators import _base

    monkeypatch.setattr(_base, "_available_bytes", lambda: 2**30)  # a machine with 1 GiB free
    X = np.random.default_rng(0).random((20, 64))
    with pytest.raises(
        MemoryError,
        match=r"^The network 64-100000-2 has a stage of 12,900,064 parameters; training it by solver='lbfgs' needs about 2\.\d GiB \(24 copies",
    ):
        StackedAutoencoderClassifier((100000,)).fit(X, np.arange(20) % 2)
