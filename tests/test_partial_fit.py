"""partial_fit: one epoch of the minibatch solver a call, going on exactly from the last
call (weights, optimizer state, random generator), and refused before any work where
its settings need all the rows."""

from __future__ import annotations

import numpy as np
import pytest
from sklearn.datasets import load_digits

from stackae import SoftmaxRegression, SparseAutoencoder


@pytest.fixture(scope="module")
def digits():
    X, y = load_digits(return_X_y=True)
    return X / 16.0, y


def test_passes_of_partial_fit_are_the_epochs_of_fit_bit_for_bit(digits):
    X, y = digits
    params = dict(n_hidden=20, solver="adam", noise="masking", noise_level=0.2, random_state=0)
    fitted = SparseAutoencoder(**params, max_iter=3).fit(X)
    passes = SparseAutoencoder(**params)
    for _ in range(3):
        passes.partial_fit(X)
    for a, b in zip(fitted.coefs_ + fitted.intercepts_, passes.coefs_ + passes.intercepts_):
        np.testing.assert_array_equal(a, b)
    assert passes.n_iter_ == 3 and passes.loss_curve_ == fitted.loss_curve_

    fitted = SoftmaxRegression(solver="sgd", nesterovs_momentum=True, max_iter=3, random_state=0).fit(X, y)
    passes = SoftmaxRegression(solver="sgd", nesterovs_momentum=True, random_state=0)
    for _ in range(3):
        passes.partial_fit(X, y)
    np.testing.assert_array_equal(fitted.coefs_[0], passes.coefs_[0])
    assert passes.n_iter_ == 3


def test_a_stream_of_batches_learns_and_fit_then_partial_fit_goes_on(digits):
    X, y = digits
    stream = SoftmaxRegression(solver="adam", learning_rate=1e-2, random_state=0)
    for _ in range(3):
        for lo in range(0, X.shape[0], 300):
            stream.partial_fit(X[lo : lo + 300], y[lo : lo + 300], classes=np.arange(10))
    assert stream.n_iter_ == 18 and np.mean(stream.predict(X) == y) > 0.85  # chance: 0.1

    model = SoftmaxRegression(solver="adam", max_iter=2, random_state=0).fit(X, y)
    before = np.mean(model.predict(X) == y)
    model.partial_fit(X, y)  # from the fitted weights and classes, a fresh optimizer
    assert model.n_iter_ == 1 and np.mean(model.predict(X) == y) > before

    autoencoder = SparseAutoencoder(16, solver="adam", tied_weights=True, max_iter=2, random_state=0).fit(X)
    last = autoencoder.loss_curve_[-1]
    autoencoder.partial_fit(X)
    assert autoencoder.loss_curve_[-1] < last


@pytest.mark.parametrize(
    ("params", "message"),
    [
        (dict(solver="adam", early_stopping=True),
         r"^partial_fit does not hold out a validation split: set early_stopping=False, or use fit\.$"),
        (dict(solver="adam", learning_rate_schedule="cosine"),
         r"^partial_fit needs learning_rate_schedule='constant' \(a decay needs the number of epochs, which "
         r"partial_fit does not know\); got learning_rate_schedule='cosine'\.$"),
        (dict(solver="adam", class_weight="balanced"),
         r"^partial_fit cannot weigh the classes by a batch's frequencies: class_weight='balanced' needs fit; "
         r"give the classes' weights as a dict\.$"),
    ],
)  # fmt: skip
def test_settings_that_need_all_the_rows_are_refused(digits, params, message):
    X, y = digits
    model = SoftmaxRegression(**params)
    with pytest.raises(ValueError, match=message):
        model.partial_fit(X, y)
    assert not hasattr(model, "coefs_")


def test_labels_outside_the_first_call_s_classes_are_refused(digits):
    X, y = digits
    model = SoftmaxRegression(solver="adam", random_state=0).partial_fit(X[y < 5], y[y < 5])
    with pytest.raises(ValueError, match=r"^partial_fit got labels \[5, 6, 7, 8, 9\] that are not among the classes "
                                         r"\[0, 1, 2, 3, 4\]; give every label as 'classes' at the first call\.$"):  # fmt: skip
        model.partial_fit(X, y)
    with pytest.raises(ValueError, match=r"X has 10 features, but SoftmaxRegression is expecting 64 features"):
        model.partial_fit(X[:, :10], y)


def test_with_lbfgs_there_is_no_partial_fit_and_the_error_says_why(digits):
    """As scikit-learn's MLP: partial_fit exists for the minibatch solvers only."""
    X, y = digits
    for model in (SoftmaxRegression(), SparseAutoencoder(8)):
        assert not hasattr(model, "partial_fit")
        with pytest.raises(
            AttributeError, match=rf"^This '{type(model).__name__}' has no attribute 'partial_fit'$"
        ) as e:
            model.partial_fit(X, y)
        assert str(e.value.__cause__) == (  # what the traceback shows under it
            "partial_fit needs solver='sgd' or 'adam' (one pass of minibatches over the rows given); "
            "L-BFGS works on all the rows at once: use fit."
        )
    assert hasattr(SoftmaxRegression(solver="sgd"), "partial_fit")
