"""SciPy sparse input: results equal to the dense input's, and the rows are made dense
a block at a time, never whole."""

from __future__ import annotations

import warnings

import numpy as np
import pytest
import scipy.sparse as sp
from sklearn.exceptions import ConvergenceWarning

from stackae import (
    SoftmaxRegression,
    SparseAutoencoder,
    StackedAutoencoder,
    StackedAutoencoderClassifier,
    StackedAutoencoderOutlierDetector,
    StackedAutoencoderRegressor,
    n_params,
)
from stackae.datasets import load_digits_split
from stackae.objectives import sparse_autoencoder_cost, stack_cost


@pytest.fixture(autouse=True)
def _quiet():
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", ConvergenceWarning)
        yield


QUICK = dict(alpha=1e-4, pretrain_max_iter=8, finetune_max_iter=8, random_state=0)
CASES = {
    "classifier, L-BFGS": (StackedAutoencoderClassifier, {"output_max_iter": 8}),
    "classifier, Adam, masking noise, early stopping": (
        StackedAutoencoderClassifier,
        dict(
            solver="adam",
            noise="masking",
            output_max_iter=2,
            pretrain_max_iter=2,
            finetune_max_iter=2,
            early_stopping=True,
        ),
    ),  # fmt: skip
    "regressor": (StackedAutoencoderRegressor, {"output_max_iter": 8}),
    "deep autoencoder": (StackedAutoencoder, {}),
    "detector, weighted": (StackedAutoencoderOutlierDetector, {}),
}


@pytest.mark.parametrize("name", CASES)
def test_sparse_input_equals_dense_input(name):
    cls, extra = CASES[name]
    data = load_digits_split()
    y = data.y_train.astype(float) if cls is StackedAutoencoderRegressor else data.y_train
    args = () if cls in (StackedAutoencoder, StackedAutoencoderOutlierDetector) else (y,)
    weights = np.linspace(0.5, 2.0, y.size) if "weighted" in name else None
    for fmt in ("csr", "csc"):
        params = {**QUICK, **extra}
        X_sparse = sp.csr_matrix(data.X_train).asformat(fmt)
        sparse = cls((16, 8), **params).fit(X_sparse, *args, sample_weight=weights)
        dense = cls((16, 8), **params).fit(data.X_train, *args, sample_weight=weights)
        for W, V in zip(sparse.coefs_, dense.coefs_):
            np.testing.assert_array_equal(W, V)
    X_test = sp.csr_matrix(data.X_test)
    np.testing.assert_array_equal(sparse.transform(X_test), dense.transform(data.X_test))
    if hasattr(sparse, "predict"):
        np.testing.assert_array_equal(sparse.predict(X_test), dense.predict(data.X_test))
    if hasattr(sparse, "reconstruction_error"):
        np.testing.assert_allclose(sparse.reconstruction_error(X_test), dense.reconstruction_error(data.X_test))


def test_single_layer_models_take_sparse_input():
    data = load_digits_split()
    Xs = sp.csr_matrix(data.X_train)
    ae = SparseAutoencoder(8, alpha=1e-4, max_iter=10, random_state=0)
    np.testing.assert_array_equal(ae.fit(Xs).coefs_[0], ae.fit(data.X_train).coefs_[0])
    sm = SoftmaxRegression(max_iter=10, random_state=0)
    # trained on blocks made dense (the same products); predicting, SciPy's sparse
    # product sums in another order
    np.testing.assert_allclose(sm.fit(Xs, data.y_train).predict_proba(Xs), sm.predict_proba(data.X_train), rtol=1e-12)


def test_objectives_on_sparse_rows():
    rng = np.random.default_rng(0)
    X = rng.random((30, 7)) * (rng.random((30, 7)) < 0.3)
    y = rng.integers(0, 3, 30)
    theta = rng.normal(0, 0.5, n_params((7, 4, 3)))
    theta_ae = rng.normal(0, 0.3, n_params((7, 4, 7)))
    for fun in (
        lambda X: stack_cost(theta, X, y, (4,), 3, alpha=1e-3),
        lambda X: sparse_autoencoder_cost(theta_ae, X, 4, alpha=1e-3, sparsity_target=0.1, sparsity_weight=3.0),
    ):
        dense, sparse = fun(X), fun(sp.csr_matrix(X))
        assert sparse[0] == pytest.approx(dense[0], rel=1e-13)
        np.testing.assert_allclose(sparse[1], dense[1], rtol=1e-12, atol=1e-15)


def test_sparse_rows_are_never_made_dense_whole(monkeypatch):
    rng = np.random.default_rng(0)
    X = sp.random(20000, 50, density=0.05, format="csr", random_state=0, dtype=np.float64)
    y = rng.integers(0, 2, X.shape[0])
    largest = [0]
    original = sp.csr_matrix.toarray

    def toarray(self, *args, **kwargs):
        largest[0] = max(largest[0], self.shape[0])
        return original(self, *args, **kwargs)

    monkeypatch.setattr(sp.csr_matrix, "toarray", toarray)
    clf = StackedAutoencoderClassifier(
        (8,), alpha=1e-4, pretrain_max_iter=2, output_max_iter=2, finetune_max_iter=2, random_state=0
    ).fit(X, y)
    clf.predict(X)
    assert 0 < largest[0] < X.shape[0] // 4


def test_sparse_with_lbfgs_noise_equals_dense_and_a_gpu_is_refused(monkeypatch):
    X = sp.random(60, 6, density=0.3, format="csr", random_state=0)
    y = np.arange(60) % 2
    # every block corrupts its own rows, made dense: no corrupted copy of all the rows
    params = dict(noise="gaussian", noise_level=0.1, pretrain_max_iter=5, output_max_iter=5, finetune_max_iter=5)
    sparse = StackedAutoencoderClassifier((3,), **params, random_state=0).fit(X, y)
    dense = StackedAutoencoderClassifier((3,), **params, random_state=0).fit(X.toarray(), y)
    for W, V in zip(sparse.coefs_, dense.coefs_):
        np.testing.assert_array_equal(W, V)
    # as if a GPU were there (CI has none)
    from stackae import _xp

    def resolve(device):
        return None if device == "cpu" else ("torch", device)

    monkeypatch.setattr(_xp, "resolve_device", resolve)
    with pytest.raises(ValueError, match=r"^device='cuda' takes dense arrays; a sparse X trains on the CPU"):
        StackedAutoencoderClassifier((3,), device="cuda").fit(X, y)
