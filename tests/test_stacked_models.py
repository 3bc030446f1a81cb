"""The stacked models beyond the classifier, on the shared base: the regressor, the
deep autoencoder and the outlier detector (accuracy floors on real data, shapes, round
trips, resume, pandas output)."""

from __future__ import annotations

import warnings

import numpy as np
import pytest
from sklearn.datasets import make_friedman1
from sklearn.exceptions import ConvergenceWarning
from sklearn.metrics import roc_auc_score
from sklearn.model_selection import train_test_split

from stackae import StackedAutoencoder, StackedAutoencoderOutlierDetector, StackedAutoencoderRegressor
from stackae.datasets import load_digits_split
from stackae.io import load_model, save_model


@pytest.fixture(autouse=True)
def _quiet():
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", ConvergenceWarning)
        yield


def _friedman():
    X, y = make_friedman1(1500, noise=0.5, random_state=0)
    y = (y - y.mean()) / y.std()
    return train_test_split(X, y, random_state=0)


REGRESSOR = dict(
    alpha=1e-4,
    sparsity_weight=0.0,
    activation="tanh",
    output_activation="linear",
    pretrain_max_iter=50,
    output_max_iter=100,
    finetune_max_iter=150,
    random_state=0,
)


def test_regressor_fits_friedman1_and_fine_tuning_helps():
    X_train, X_test, y_train, y_test = _friedman()
    reg = StackedAutoencoderRegressor((16,), **REGRESSOR).fit(X_train, y_train)
    r2 = reg.score(X_test, y_test)
    assert r2 >= 0.95  # a linear model reaches about 0.75 here
    before = 1 - np.mean((reg.predict(X_test, pretrained=True) - y_test) ** 2) / np.var(y_test)
    assert before < r2 - 0.1
    assert list(reg.stage_costs_) == ["pretrain layer 1", "output", "finetune"]
    assert reg.predict(X_test).shape == (X_test.shape[0],)


def test_regressor_with_several_targets():
    X_train, X_test, y_train, y_test = _friedman()
    Y_train = np.column_stack([y_train, -2 * y_train])
    reg = StackedAutoencoderRegressor((16,), **REGRESSOR).fit(X_train, Y_train)
    P = reg.predict(X_test)
    assert P.shape == (X_test.shape[0], 2) and reg.n_outputs_ == 2
    np.testing.assert_allclose(P[:, 1], -2 * P[:, 0], rtol=0.05, atol=0.1)
    with pytest.raises(ValueError, match=r"^warm_start=True needs 2 targets per sample as fitted, got 1;"):
        reg.set_params(warm_start=True).fit(X_train, y_train)


def test_regressor_minibatch_and_early_stopping():
    X_train, X_test, y_train, y_test = _friedman()
    params = dict(REGRESSOR, solver="adam", learning_rate=1e-2, batch_size=32, pretrain_max_iter=5, output_max_iter=5)
    params.update(finetune_max_iter=60, early_stopping=True, n_iter_no_change=5)
    reg = StackedAutoencoderRegressor((16,), **params)
    reg.fit(X_train, y_train)
    assert reg.score(X_test, y_test) >= 0.85
    assert set(reg.best_validation_score_) == {"pretrain layer 1", "output", "finetune"}
    assert reg.best_validation_score_["finetune"] == max(reg.validation_scores_["finetune"])


def _digits():
    return load_digits_split()


def test_deep_autoencoder_layout_codes_and_reconstructions():
    data = _digits()
    ae = StackedAutoencoder((32, 12), alpha=1e-4, pretrain_max_iter=60, finetune_max_iter=150, random_state=0)
    ae.fit(data.X_train)
    assert [W.shape for W in ae.coefs_] == [(64, 32), (32, 12), (12, 32), (32, 64)]
    assert list(ae.stage_costs_) == ["pretrain layer 1", "pretrain layer 2", "finetune"]
    codes = ae.transform(data.X_test)
    assert codes.shape == (data.X_test.shape[0], 12)
    assert ae.transform(data.X_test, layer=1).shape == (data.X_test.shape[0], 32)
    np.testing.assert_allclose(ae.inverse_transform(codes), ae.reconstruct(data.X_test), rtol=1e-12)
    # fine-tuning the unrolled network reconstructs held-out digits better than the
    # pretrained stack does
    after = ae.reconstruction_error(data.X_test).mean()
    before = ae.reconstruction_error(data.X_test, pretrained=True).mean()
    assert after < 0.5 * before
    per_feature = ae.reconstruction_error(data.X_test[:5], per_feature=True)
    np.testing.assert_allclose(per_feature.sum(axis=1), ae.reconstruction_error(data.X_test[:5]), rtol=1e-12)
    assert ae.score(data.X_test) == pytest.approx(-after)
    with pytest.raises(ValueError, match=r"^'layer' must be an integer in 1\.\.2, got 3\.$"):
        ae.transform(data.X_test, layer=3)


def test_deep_autoencoder_cross_entropy_and_mirrored_dropout():
    data = _digits()
    ae = StackedAutoencoder(
        (24, 8), alpha=1e-4, reconstruction_loss="cross_entropy", dropout=(0.1, 0.2, 0.0), solver="adam",
        learning_rate=3e-3, pretrain_max_iter=5, finetune_max_iter=10, random_state=0,
    )  # fmt: skip
    assert ae._check_params()[2] == (0.1, 0.2, 0.0, 0.2)  # the decoder's 24-wide layer takes 0.2
    ae.fit(data.X_train)
    E = ae.reconstruction_error(data.X_test)
    assert np.all(np.isfinite(E)) and E.mean() < ae.reconstruction_error(data.X_test, pretrained=True).mean()


def test_deep_autoencoder_pandas_output_and_feature_names():
    pd = pytest.importorskip("pandas")
    data = _digits()
    ae = StackedAutoencoder((16, 4), alpha=1e-4, pretrain_max_iter=10, finetune_max_iter=10, random_state=0)
    ae.set_output(transform="pandas").fit(data.X_train)
    out = ae.transform(data.X_test[:3])
    assert isinstance(out, pd.DataFrame)
    assert list(out.columns) == [f"stackedautoencoder{i}" for i in range(4)]


def test_deep_autoencoder_resumes_from_its_checkpoints(tmp_path):
    data = _digits()
    params = dict(alpha=1e-4, pretrain_max_iter=20, finetune_max_iter=20, random_state=0)
    whole = StackedAutoencoder((16, 6), **params).fit(data.X_train)
    ae = StackedAutoencoder((16, 6), **params, checkpoint_dir=tmp_path, checkpoint_every=5).fit(data.X_train)
    for W, V in zip(whole.coefs_, ae.coefs_):
        np.testing.assert_array_equal(W, V)
    # a second fit on the same folder restores the finished run instead of training again
    again = StackedAutoencoder((16, 6), **params, checkpoint_dir=tmp_path).fit(data.X_train)
    for W, V in zip(whole.coefs_, again.coefs_):
        np.testing.assert_array_equal(W, V)


def test_detector_ranks_injected_anomalies_above_normal_rows():
    data = _digits()
    rng = np.random.default_rng(0)
    normal = data.X_test[:200]
    anomalies = np.clip(rng.random((40, 64)) * 1.0, 0, 1)  # noise images
    inverted = 1.0 - data.X_test[200:240]  # light digits on a dark ground
    X = np.vstack([normal, anomalies, inverted])
    is_anomaly = np.r_[np.zeros(200), np.ones(80)]
    det = StackedAutoencoderOutlierDetector(
        (32, 12), alpha=1e-4, pretrain_max_iter=60, finetune_max_iter=100, contamination=0.05, random_state=0
    ).fit(data.X_train)
    assert roc_auc_score(is_anomaly, -det.score_samples(X)) >= 0.99
    # offset_: the contamination quantile of the training rows' scores
    assert np.mean(det.predict(data.X_train) == -1) == pytest.approx(0.05, abs=0.01)
    labels = det.predict(X)
    assert set(np.unique(labels)) <= {-1, 1}
    np.testing.assert_array_equal(labels == -1, det.decision_function(X) < 0)
    assert np.mean(labels[200:] == -1) >= 0.9
    with pytest.raises(ValueError, match=r"^'contamination' must be a number"):
        StackedAutoencoderOutlierDetector((4,), contamination=0.7).fit(data.X_train[:50])


@pytest.mark.parametrize("cls", [StackedAutoencoderRegressor, StackedAutoencoder, StackedAutoencoderOutlierDetector])
def test_model_files_round_trip(tmp_path, cls):
    data = _digits()
    params = dict(alpha=1e-4, pretrain_max_iter=10, finetune_max_iter=10, random_state=0)
    est = cls((16, 8), **params)
    if cls is StackedAutoencoderRegressor:
        est.fit(data.X_train, data.y_train.astype(float))
        check = "predict"
    else:
        est.fit(data.X_train)
        check = "score_samples" if cls is StackedAutoencoder else "decision_function"
    save_model(est, tmp_path / "m.npz")
    loaded = load_model(tmp_path / "m.npz")
    assert type(loaded) is cls and loaded.get_params() == est.get_params()
    np.testing.assert_array_equal(getattr(loaded, check)(data.X_test), getattr(est, check)(data.X_test))
    if cls is StackedAutoencoderOutlierDetector:
        assert loaded.offset_ == est.offset_
