"""Training where the rows live: PyTorch CPU tensors and device="cpu" reach the NumPy
floors on the digits with NumPy fitted attributes; device="cuda" without a GPU is a
clear error; the array-API L-BFGS on its own."""

from __future__ import annotations

import warnings

import numpy as np
import pytest
from sklearn.exceptions import ConvergenceWarning

from stackae import SoftmaxRegression, SparseAutoencoder, StackedAutoencoderClassifier, _lbfgs
from stackae.cli import main
from stackae.datasets import load_digits_split

torch = pytest.importorskip("torch", reason="PyTorch is not installed (pip install torch==2.13.0)")

DIGITS = dict(hidden_layer_sizes=(64, 32), alpha=1e-4, random_state=0)
ADAM = dict(solver="adam", learning_rate=1e-2, batch_size=64, pretrain_max_iter=10, softmax_max_iter=10)


@pytest.fixture(scope="module")
def digits():
    return load_digits_split()


def _fit(est, X, y=None):
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", ConvergenceWarning)
        return est.fit(X, y) if y is not None else est.fit(X)


@pytest.mark.parametrize(("dtype", "solver"), [(torch.float64, "adam"), (torch.float32, "lbfgs")])
def test_stack_on_torch_tensors_reaches_the_floors(digits, dtype, solver):
    X = torch.from_numpy(digits.X_train).to(dtype)
    schedule = dict(pretrain_max_iter=150, softmax_max_iter=150, finetune_max_iter=150)
    if solver == "adam":
        schedule = dict(ADAM, finetune_max_iter=40)
    clf = _fit(StackedAutoencoderClassifier(**DIGITS, **schedule), X, torch.from_numpy(digits.y_train))
    assert all(isinstance(W, np.ndarray) for W in clf.coefs_ + clf.intercepts_)
    assert clf.coefs_[0].dtype == (np.float64 if dtype == torch.float64 else np.float32)
    assert clf.score(digits.X_test, digits.y_test) >= 0.97  # NumPy input after torch training
    if solver == "lbfgs":  # a few Adam epochs of pretraining do not make a classifier yet
        assert np.mean(clf.predict(digits.X_test, pretrained=True) == digits.y_test) >= 0.93
    labels = clf.predict(torch.from_numpy(digits.X_test).to(dtype))  # torch input: labels as NumPy
    assert isinstance(labels, np.ndarray) and np.mean(labels == digits.y_test) >= 0.97
    proba = clf.predict_proba(torch.from_numpy(digits.X_test).to(dtype))
    assert isinstance(proba, torch.Tensor)
    np.testing.assert_allclose(proba.sum(dim=1).numpy(), 1.0, rtol=1e-5)


def test_minibatch_on_torch_equals_numpy(digits):
    """Same math, same order of samples: the same network, up to rounding."""
    params = dict(DIGITS, **ADAM, finetune_max_iter=5)
    ref = _fit(StackedAutoencoderClassifier(**params), digits.X_train, digits.y_train)
    got = _fit(StackedAutoencoderClassifier(**params), torch.from_numpy(digits.X_train), digits.y_train)
    for W_ref, W in zip(ref.coefs_, got.coefs_):
        np.testing.assert_allclose(W, W_ref, rtol=1e-8, atol=1e-10)


def test_device_cpu_is_the_default_numpy_path(digits):
    a = _fit(SoftmaxRegression(max_iter=50, random_state=0), digits.X_train, digits.y_train)
    b = _fit(SoftmaxRegression(max_iter=50, random_state=0, device="cpu"), digits.X_train, digits.y_train)
    np.testing.assert_array_equal(a.coefs_[0], b.coefs_[0])


def test_autoencoder_on_torch_transforms_in_torch(digits):
    ae = _fit(SparseAutoencoder(16, alpha=1e-4, max_iter=50, random_state=0), torch.from_numpy(digits.X_train))
    H = ae.transform(torch.from_numpy(digits.X_test))
    assert isinstance(H, torch.Tensor) and tuple(H.shape) == (digits.X_test.shape[0], 16)
    np.testing.assert_allclose(H.numpy(), ae.transform(digits.X_test), rtol=1e-12)


@pytest.mark.skipif(torch.cuda.is_available(), reason="a GPU is present")
def test_cuda_without_a_gpu_is_a_clear_error(digits, capsys):
    message = (
        f"device='cuda': PyTorch is installed but sees no CUDA GPU (torch {torch.__version__}, CUDA build: no). "
        "Use device='cpu', or install a CUDA build of PyTorch on a machine with a GPU."
    )
    with pytest.raises(ValueError) as info:
        SoftmaxRegression(device="cuda").fit(digits.X_train, digits.y_train)
    assert str(info.value) == message
    assert main(["train", "--device", "cuda", "--quiet"]) == 1
    assert capsys.readouterr().err == f"Error: {message}\n"


@pytest.mark.parametrize("device", ["gpu", "cuda:x", 3])
def test_bad_device_names(device):
    with pytest.raises(ValueError, match=r"^'device' must be 'cpu', 'cuda' or 'cuda:N', got "):
        SoftmaxRegression(device=device).fit(np.random.rand(6, 2), np.arange(6) % 2)


# ------------------------------------------------------------- array-API L-BFGS
def test_array_api_lbfgs_minimises_rosenbrock():
    def rosen(x):
        cost = torch.sum(100.0 * (x[1:] - x[:-1] ** 2) ** 2 + (1 - x[:-1]) ** 2)
        grad = torch.zeros_like(x)
        grad[:-1] = -400 * x[:-1] * (x[1:] - x[:-1] ** 2) - 2 * (1 - x[:-1])
        grad[1:] += 200 * (x[1:] - x[:-1] ** 2)
        return float(cost), grad

    import array_api_compat.torch as xp

    x, f, n_iter, converged, _ = _lbfgs.minimize(
        rosen, torch.zeros(8, dtype=torch.float64), xp=xp, max_iter=500, gtol=1e-8
    )
    assert converged and f < 1e-12
    np.testing.assert_allclose(x.numpy(), 1.0, atol=1e-5)
    assert n_iter < 200


def test_array_api_lbfgs_matches_scipy_on_a_quadratic():
    rng = np.random.default_rng(0)
    A = rng.normal(size=(30, 30))
    H = A @ A.T + np.eye(30)
    b = rng.normal(size=30)

    def quad(x):
        Hx = torch.from_numpy(H) @ x
        return float(0.5 * x @ Hx - torch.from_numpy(b) @ x), Hx - torch.from_numpy(b)

    import array_api_compat.torch as xp

    x, *_ = _lbfgs.minimize(quad, torch.zeros(30, dtype=torch.float64), xp=xp, max_iter=300, gtol=1e-10)
    # it stops when the cost no longer changes in float64 (about 1e-15 relative)
    np.testing.assert_allclose(x.numpy(), np.linalg.solve(H, b), rtol=1e-5, atol=1e-7)
