"""The objectives on other array libraries: PyTorch CPU tensors and array-api-strict
(the standard and nothing more) give NumPy's cost and gradient; gradients checked on
torch tensors; the gradient comes back in theta's library. Where a CUDA GPU is present,
the same checks run on PyTorch CUDA tensors and on CuPy arrays (CI has none; the device
runs them)."""

from __future__ import annotations

import numpy as np
import pytest

from stackae import init_theta, n_params
from stackae.gradcheck import relative_difference
from stackae.objectives import softmax_cost, sparse_autoencoder_cost, stack_cost

torch = pytest.importorskip("torch", reason="PyTorch is not installed (pip install torch==2.13.0)")
strict = pytest.importorskip("array_api_strict")

REL = 1e-12


def _to_torch(a):
    return torch.from_numpy(np.asarray(a)) if a is not None else None


def _to_strict(a):
    return strict.asarray(np.asarray(a)) if a is not None else None


def _to_cuda(a):
    return torch.from_numpy(np.asarray(a)).to("cuda") if a is not None else None


def _to_cupy(a):
    import cupy

    return cupy.asarray(np.asarray(a)) if a is not None else None


def _host(a):
    """``a`` as NumPy, from any of the libraries above."""
    if isinstance(a, torch.Tensor):
        return a.detach().cpu().numpy()
    return a.get() if hasattr(a, "get") else np.asarray(a)


def _cupy_with_a_gpu() -> bool:
    try:
        import cupy

        return cupy.cuda.runtime.getDeviceCount() > 0
    except Exception:  # not installed, or no driver: CuPy raises its own errors
        return False


#: the libraries compared with NumPy: torch CPU and array-api-strict everywhere, the
#: GPU ones where there is a GPU
CONVERTERS = [pytest.param(_to_torch, id="torch"), pytest.param(_to_strict, id="array-api-strict")]
if torch.cuda.is_available():
    CONVERTERS.append(pytest.param(_to_cuda, id="torch-cuda"))
if _cupy_with_a_gpu():
    CONVERTERS.append(pytest.param(_to_cupy, id="cupy"))
#: draw dropout masks with their own generator: the same law as NumPy's, other numbers
OWN_MASKS = (_to_torch, _to_cuda, _to_cupy)


def _ae_cases():
    """(name, theta, kwargs) for the autoencoder: UFLDL's and the new options."""
    base = dict(alpha=3e-3, sparsity_target=0.1, sparsity_weight=3.0)
    return [
        ("ufldl", False, base),
        ("tied+denoising", True, dict(base, target="clean")),
        (
            "tanh+linear+contraction",
            False,
            dict(base, sparsity_weight=0.0, activation="tanh", output_activation="linear", contraction=0.2),
        ),
        ("relu+cross_entropy", False, dict(base, sparsity_weight=0.0, activation="relu", loss="cross_entropy")),
    ]


@pytest.mark.parametrize("convert", CONVERTERS)
@pytest.mark.parametrize(("name", "tied", "kwargs"), _ae_cases(), ids=[c[0] for c in _ae_cases()])
def test_autoencoder_matches_numpy(convert, name, tied, kwargs):
    rng = np.random.default_rng(0)
    X = rng.random((37, 6))
    clean = rng.random((37, 6))
    theta = init_theta((6, 4, 6), rng, tied=tied)
    theta = theta + rng.normal(0, 0.1, theta.size)
    kw = dict(kwargs, tied=tied)
    if kw.get("target") == "clean":
        kw["target"] = clean
    ref_cost, ref_grad = sparse_autoencoder_cost(theta, X, 4, **kw)
    if "target" in kw:
        kw["target"] = convert(kw["target"])
    cost, grad = sparse_autoencoder_cost(convert(theta), convert(X), 4, **kw)
    assert isinstance(cost, float)
    assert type(grad) is type(convert(theta))
    assert cost == pytest.approx(ref_cost, rel=REL)
    assert relative_difference(_host(grad), ref_grad) < REL


@pytest.mark.parametrize("convert", CONVERTERS)
@pytest.mark.parametrize(
    "options",
    [
        {},
        {"decay": "all", "activation": "relu"},
        {"dropout": (0.2, 0.5, 0.3), "activation": "tanh"},
        {"adversarial": 0.1, "adversarial_weight": 0.4},
    ],
)
def test_stack_and_softmax_match_numpy(convert, options):
    rng = np.random.default_rng(1)
    X, y = rng.random((41, 7)), rng.integers(0, 3, 41)
    theta = rng.normal(0, 0.5, n_params((7, 5, 4, 3)))
    ref_cost, ref_grad = stack_cost(theta, X, y, (5, 4), 3, alpha=1e-3, **options)
    cost, grad = stack_cost(convert(theta), convert(X), convert(y), (5, 4), 3, alpha=1e-3, **options)
    assert type(grad) is type(convert(theta))
    if "dropout" in options and convert in OWN_MASKS:
        # the library draws its masks with its own generator: the same law, other numbers
        assert np.isfinite(cost) and cost != pytest.approx(ref_cost, rel=1e-3)
        return
    assert cost == pytest.approx(ref_cost, rel=REL)
    assert relative_difference(_host(grad), ref_grad) < REL
    theta_s = rng.normal(0, 0.5, n_params((7, 3)))
    ref = softmax_cost(theta_s, X, y, 3, alpha=1e-4)
    got = softmax_cost(convert(theta_s), convert(X), convert(y), 3, alpha=1e-4)
    assert got[0] == pytest.approx(ref[0], rel=REL)
    assert relative_difference(_host(got[1]), ref[1]) < REL


def _torch_gradcheck(fun, theta):
    """Central differences (four-point, epsilon 1e-4) on a float64 torch tensor."""
    eps = 1e-4
    numeric = torch.empty_like(theta)
    for i in range(theta.numel()):
        values = []
        for step in (-2 * eps, -eps, eps, 2 * eps):
            t = theta.clone()
            t[i] += step
            values.append(fun(t)[0])
        numeric[i] = (values[0] - 8 * values[1] + 8 * values[2] - values[3]) / (12 * eps)
    analytic = fun(theta)[1]
    return float(torch.linalg.norm(numeric - analytic) / torch.linalg.norm(numeric + analytic))


TORCH_DEVICES = ["cpu"] + (["cuda"] if torch.cuda.is_available() else [])


@pytest.mark.parametrize("device", TORCH_DEVICES)
def test_gradient_checks_on_torch_tensors(device):
    rng = np.random.default_rng(2)
    X = torch.from_numpy(rng.random((9, 5))).to(device)
    y = torch.from_numpy(rng.integers(0, 3, 9)).to(device)
    theta_ae = torch.from_numpy(init_theta((5, 3, 5), rng) + rng.normal(0, 0.1, n_params((5, 3, 5)))).to(device)
    theta_st = torch.from_numpy(rng.normal(0, 0.5, n_params((5, 4, 3, 3)))).to(device)

    def ae(t):
        return sparse_autoencoder_cost(t, X, 3, alpha=3e-3, sparsity_target=0.1, sparsity_weight=3.0, contraction=0.1)

    def st(t):
        return stack_cost(t, X, y, (4, 3), 3, alpha=1e-3, decay="all", dropout=0.3, dropout_seed=1)

    assert _torch_gradcheck(ae, theta_ae) < 1e-9
    assert _torch_gradcheck(st, theta_st) < 1e-9
    # torch's own kernels for G * f'(Z): ReLU with dropout reads f' from the masked
    # activations; tanh and ReLU without dropout, sigmoid in the autoencoder above
    for activation, dropout in (("relu", (0.2, 0.3, 0.3)), ("tanh", 0.0), ("relu", 0.0)):

        def st_other(t, activation=activation, dropout=dropout):
            return stack_cost(t, X, y, (4, 3), 3, alpha=1e-3, activation=activation, dropout=dropout, dropout_seed=2)

        assert _torch_gradcheck(st_other, theta_st) < 1e-9, activation


@pytest.mark.parametrize("device", TORCH_DEVICES)
def test_float32_tensors_compute_in_float32(device):
    rng = np.random.default_rng(3)
    X = torch.from_numpy(rng.random((20, 4)).astype(np.float32)).to(device)
    theta = torch.from_numpy(init_theta((4, 3, 4), 0, np.float32)).to(device)
    cost, grad = sparse_autoencoder_cost(theta, X, 3, alpha=1e-3, sparsity_target=0.1, sparsity_weight=3.0)
    assert grad.dtype == torch.float32 and isinstance(cost, float) and grad.device == theta.device


def test_theta_and_x_in_different_libraries_is_refused():
    X = torch.zeros((2, 3), dtype=torch.float64)
    with pytest.raises(
        ValueError,
        match=r"^'theta' and 'X' must be arrays of the same library and device, got numpy\.ndarray and torch\.Tensor on cpu\.$",
    ):
        softmax_cost(np.zeros(n_params((3, 2))), X, torch.tensor([0, 1]), 2, alpha=0.0)
