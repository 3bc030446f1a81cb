"""Training where the rows live: PyTorch CPU tensors and device="cpu" reach the NumPy
floors on the digits with NumPy fitted attributes; device="cuda" without a GPU is a
clear error; the array-API L-BFGS on its own. Where a CUDA GPU is present: training on
the card (L-BFGS, Adam, the ``best`` preset's machinery, CuPy arrays) reaches the same
floors, and float64 on the card equals NumPy up to rounding."""

from __future__ import annotations

import warnings

import numpy as np
import pytest
from sklearn.exceptions import ConvergenceWarning

from stackae import SoftmaxRegression, SparseAutoencoder, StackedAutoencoderClassifier, _lbfgs
from stackae.cli import main
from stackae.datasets import load_digits_split
from stackae.presets import BEST

torch = pytest.importorskip("torch", reason="PyTorch is not installed (pip install torch==2.13.0)")

DIGITS = dict(hidden_layer_sizes=(64, 32), alpha=1e-4, random_state=0)
ADAM = dict(solver="adam", learning_rate=1e-2, batch_size=64, pretrain_max_iter=10, output_max_iter=10)


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
    schedule = dict(pretrain_max_iter=150, output_max_iter=150, finetune_max_iter=150)
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


# ------------------------------------------------------------- on a CUDA GPU (the device machine; CI has none)
needs_gpu = pytest.mark.skipif(not torch.cuda.is_available(), reason="no CUDA GPU")
#: the ``best`` preset's machinery, small: ReLU, tied denoising pretraining, dropout,
#: max-norm, SGD with Nesterov momentum and a linear schedule, early stopping
BEST_SMALL = dict(
    BEST,
    hidden_layer_sizes=(64, 64),
    pretrain_max_iter=5,
    finetune_max_iter=40,
    dropout=(0.1, 0.2, 0.2),  # the preset's (0.2, 0.5, 0.5) needs wider layers than 64
    batch_size=32,
    early_stopping=True,
    validation_fraction=0.2,
    n_iter_no_change=1000,
    random_state=0,
)


@needs_gpu
@pytest.mark.parametrize(("dtype", "solver"), [(np.float32, "lbfgs"), (np.float64, "adam")])
def test_cuda_training_reaches_the_floors(digits, dtype, solver):
    schedule = dict(pretrain_max_iter=150, output_max_iter=150, finetune_max_iter=150)
    if solver == "adam":
        schedule = dict(ADAM, finetune_max_iter=40)
    X = digits.X_train.astype(dtype)  # moved to the card in its own dtype (float64 stays float64)
    clf = _fit(StackedAutoencoderClassifier(**DIGITS, **schedule, device="cuda"), X, digits.y_train)
    assert all(isinstance(W, np.ndarray) and W.dtype == dtype for W in clf.coefs_ + clf.intercepts_)
    assert clf.score(digits.X_test, digits.y_test) >= 0.97
    X_test = torch.from_numpy(digits.X_test.astype(dtype)).cuda()
    proba = clf.predict_proba(X_test)  # answers on the card
    assert isinstance(proba, torch.Tensor) and proba.device.type == "cuda"
    np.testing.assert_array_equal(proba.argmax(dim=1).cpu().numpy(), clf.predict(digits.X_test))


@needs_gpu
def test_cuda_minibatch_in_float64_equals_numpy(digits):
    """Same math and order of samples on the card: NumPy's network up to rounding (the
    card's products sum in another order)."""
    params = dict(DIGITS, **ADAM, finetune_max_iter=5)
    ref = _fit(StackedAutoencoderClassifier(**params), digits.X_train, digits.y_train)
    X = torch.from_numpy(digits.X_train).cuda()
    got = _fit(StackedAutoencoderClassifier(**params), X, torch.from_numpy(digits.y_train).cuda())
    for W_ref, W in zip(ref.coefs_, got.coefs_):
        np.testing.assert_allclose(W, W_ref, rtol=1e-6, atol=1e-9)


@needs_gpu
def test_cuda_runs_the_best_presets_machinery(digits):
    clf = _fit(StackedAutoencoderClassifier(**BEST_SMALL, device="cuda"), digits.X_train, digits.y_train)
    ref = _fit(StackedAutoencoderClassifier(**BEST_SMALL), digits.X_train, digits.y_train)
    for est in (clf, ref):  # masks drawn by torch on the card: other numbers, the same floor
        assert est.score(digits.X_test, digits.y_test) >= 0.95
        assert len(est.validation_scores_["finetune"]) == 40
        assert est.best_validation_score_["finetune"] == max(est.validation_scores_["finetune"])
    assert max(np.abs(W).max() for W in clf.coefs_) > 0  # trained, not left at zero
    norms = [np.linalg.norm(W, axis=0).max() for W in clf.coefs_[:-1]]
    assert max(norms) <= 3.0 * (1 + 1e-5)  # max-norm held on the card


@needs_gpu
def test_cupy_arrays_train_on_the_card(digits):
    cupy = pytest.importorskip("cupy")
    schedule = dict(pretrain_max_iter=150, output_max_iter=150, finetune_max_iter=150)
    X = cupy.asarray(digits.X_train, dtype=cupy.float32)
    clf = _fit(StackedAutoencoderClassifier(**DIGITS, **schedule), X, cupy.asarray(digits.y_train))
    assert clf.coefs_[0].dtype == np.float32
    assert clf.score(digits.X_test, digits.y_test) >= 0.97
    labels = clf.predict(cupy.asarray(digits.X_test, dtype=cupy.float32))
    assert isinstance(labels, np.ndarray) and np.mean(labels == digits.y_test) >= 0.97


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
