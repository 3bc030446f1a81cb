"""The compiled (Numba) kernels: each fused operation against the portable reference,
the vectorised sigmoid against NumPy's to a few units in the last place, whole
objectives and their gradients under both kernel sets, and the choice of kernels."""

import numpy as np
import pytest

import stackae
from stackae import _rows
from stackae._rows import _numpy, _registry
from stackae._rows._kernels import Kernels
from stackae.gradcheck import check_gradient
from stackae.objectives import sparse_autoencoder_cost, stack_cost

numba = pytest.importorskip("numba")
from stackae._rows._compiled import CompiledKernels  # noqa: E402

EPS = {np.float64: np.finfo(np.float64).eps, np.float32: np.finfo(np.float32).eps}
DTYPES = [np.float64, np.float32]


@pytest.fixture
def kernels_kind():
    """Restores the default kernels after a test that changes them."""
    yield stackae.set_kernels
    stackae.set_kernels(None)


def _numpy_sigmoid(z):
    with np.errstate(over="ignore"):
        return 1.0 / (1.0 + np.exp(-z))


@pytest.mark.parametrize("dtype", DTYPES)
def test_sigmoid_agrees_with_numpy_to_a_few_ulps_and_saturates_alike(dtype):
    rng = np.random.default_rng(0)
    edges = [0.0, 1e-30, -1e-30, 30, -30, 87, -87, 88.7, -88.7, 104, -104, 708, -708, 709.9, -709.9, 745, -745, 800]
    z = np.concatenate([rng.normal(0, 6, 20000), rng.uniform(-750, 750, 20000), edges]).astype(dtype)
    z = z.reshape(1, -1)
    got = CompiledKernels().activate("sigmoid", z.copy())
    want = _numpy_sigmoid(z)
    # exactly 0 and 1 where NumPy's is
    assert np.array_equal(got[want == 1.0], want[want == 1.0])
    assert np.array_equal(got[want == 0.0], want[want == 0.0])
    # a few units in the last place where the result is a normal number ...
    tiny = np.finfo(dtype).tiny
    normal = want >= tiny
    ulps = np.abs(got[normal] - want[normal]) / (want[normal] * EPS[dtype])
    assert ulps.max() <= 4.0, ulps.max()
    # ... and where NumPy's is subnormal, at most that subnormal (it may flush to 0)
    assert np.all(np.abs(got[~normal] - want[~normal]) <= tiny)


@pytest.mark.parametrize("dtype", DTYPES)
def test_sigmoid_keeps_nan_and_infinities(dtype):
    z = np.array([[np.nan, np.inf, -np.inf]], dtype=dtype)
    got = CompiledKernels().activate("sigmoid", z)
    assert np.isnan(got[0, 0]) and got[0, 1] == 1.0 and got[0, 2] == 0.0


@pytest.mark.parametrize("name", ["sigmoid", "relu", "tanh"])
def test_a_nan_stays_nan_through_the_layer_kernels(name):
    """A diverging fit must still show NaN (the NumPy kernels keep it too)."""
    k = CompiledKernels()
    A = k.activate_affine(name, np.ones((1, 1)), np.array([[np.nan, 1.0]]), np.zeros(2))
    assert np.isnan(A[0, 0]) and np.isfinite(A[0, 1])
    G, sums = k.hidden_delta(name, np.ones((1, 2)), np.array([[np.nan, 0.5]]))
    assert np.isnan(G[0, 0]) and np.isnan(sums[0]) and np.isfinite(G[0, 1])
    cost, D, _ = k.squared_error_delta(
        "sigmoid", np.ones((1, 1)), np.array([[np.nan, 1.0]]), np.zeros(2), np.zeros((1, 2))
    )
    assert np.isnan(cost) and np.isnan(D[0, 0])


def _layer(dtype, rows=37, n_in=13, n_out=29, seed=0):
    rng = np.random.default_rng(seed)
    A = rng.random((rows, n_in)).astype(dtype)
    W = rng.normal(0, 2, (n_in, n_out)).astype(dtype)
    b = rng.normal(0, 1, n_out).astype(dtype)
    T = rng.random((rows, n_out)).astype(dtype)
    return A, W, b, T


def _close(dtype):
    return dict(rtol=1e-13 if dtype == np.float64 else 2e-5, atol=1e-15 if dtype == np.float64 else 1e-6)


@pytest.mark.parametrize("dtype", DTYPES)
@pytest.mark.parametrize("name", ["sigmoid", "relu", "tanh", "linear"])
def test_activate_affine_matches_the_reference(dtype, name):
    A, W, b, _ = _layer(dtype)
    want = Kernels(np).activate_affine(name, A, W, b)
    got = CompiledKernels().activate_affine(name, A, W, b, "key")
    assert got.dtype == dtype
    np.testing.assert_allclose(got, want, **_close(dtype))


@pytest.mark.parametrize("dtype", DTYPES)
@pytest.mark.parametrize("name", ["sigmoid", "linear", "tanh"])
def test_squared_error_delta_matches_the_reference(dtype, name):
    A, W, b, T = _layer(dtype)
    cost, D, colsum = Kernels(np).squared_error_delta(name, A, W, b, T)
    k = CompiledKernels()
    for _ in range(2):  # the second call reuses the scratch buffers, which must start at 0
        got_cost, got_D, got_colsum = k.squared_error_delta(name, A, W, b, T, "Xhat")
        assert got_cost == pytest.approx(cost, rel=1e-13 if dtype == np.float64 else 1e-5)
        np.testing.assert_allclose(got_D, D, **_close(dtype))
        np.testing.assert_allclose(got_colsum, colsum, **_close(dtype))


@pytest.mark.parametrize("dtype", DTYPES)
@pytest.mark.parametrize("name", ["sigmoid", "relu", "tanh"])
@pytest.mark.parametrize("scaled", [False, True])
def test_hidden_delta_matches_the_reference(dtype, name, scaled):
    rng = np.random.default_rng(1)
    A = Kernels(np).activate(name, rng.normal(0, 2, (41, 23)).astype(dtype))
    G = rng.normal(0, 1, (41, 23)).astype(dtype)
    scale, shift = (0.25, rng.normal(0, 1, 23).astype(dtype)) if scaled else (None, None)
    want, want_sums = Kernels(np).hidden_delta(name, G.copy(), A, scale, shift)
    k = CompiledKernels()
    for _ in range(2):
        got, got_sums = k.hidden_delta(name, G.copy(), A, scale, shift)
        np.testing.assert_allclose(got, want, **_close(dtype))
        np.testing.assert_allclose(got_sums, want_sums, **_close(dtype))


@pytest.mark.parametrize("dtype", DTYPES)
def test_softmax_delta_matches_the_reference_and_keeps_nan(dtype):
    rng = np.random.default_rng(3)
    S = rng.normal(0, 4, (43, 7)).astype(dtype)
    S[0] += 300  # large scores: the row's maximum is taken out before exp
    y = rng.integers(0, 7, 43)
    want_cost, want_D, want_sums = Kernels(np).softmax_delta(S.copy(), y, 1 / 43)
    k = CompiledKernels()
    for _ in range(2):  # the column sums' buffer is reused and must start at 0
        cost, D, sums = k.softmax_delta(S.copy(), y, 1 / 43)
        assert cost == pytest.approx(float(want_cost), rel=1e-13 if dtype == np.float64 else 1e-6)
        assert D.dtype == dtype
        np.testing.assert_allclose(D, want_D, **_close(dtype))
        np.testing.assert_allclose(sums, want_sums, **_close(dtype))
    S[5, 2] = np.nan
    cost, D, _ = k.softmax_delta(S.copy(), y, 1 / 43)
    assert np.isnan(cost) and np.isnan(D[5]).all() and np.isfinite(D[6]).all()
    # row weights go to the portable version
    w = rng.random(43).astype(dtype)
    got = k.softmax_delta(S[6:].copy(), y[6:], 0.1, w[6:])
    want = Kernels(np).softmax_delta(S[6:].copy(), y[6:], 0.1, w[6:])
    np.testing.assert_allclose(got[1], want[1], **_close(dtype))


def test_arrays_the_kernels_do_not_take_go_to_the_numpy_kernels():
    """Not C-contiguous, or of mixed dtypes: the NumPy path, with the same results."""
    rng = np.random.default_rng(2)
    A = rng.random((30, 12))
    G = np.asfortranarray(rng.normal(size=(30, 12)))
    want, want_sums = _numpy.NumpyKernels().hidden_delta("sigmoid", G.copy(order="F"), A)
    got, got_sums = CompiledKernels().hidden_delta("sigmoid", G, A)
    np.testing.assert_array_equal(got, want)
    np.testing.assert_array_equal(got_sums, want_sums)
    A32, W, b, T = _layer(np.float32)
    cost, D, _ = _numpy.NumpyKernels().squared_error_delta("sigmoid", A32, W, b, T.astype(np.float64))
    got_cost, got_D, _ = CompiledKernels().squared_error_delta("sigmoid", A32, W, b, T.astype(np.float64))
    assert got_cost == pytest.approx(cost, rel=1e-6)  # its sigmoid is still the compiled one
    np.testing.assert_allclose(got_D, D, **_close(np.float32))


AE_CASES = [
    dict(sparsity_weight=3.0),
    dict(sparsity_weight=0.0, activation="relu", output_activation="linear", tied=True),
    dict(sparsity_weight=0.0, activation="tanh", output_activation="linear"),
    dict(sparsity_weight=3.0, contraction=0.1),
    dict(sparsity_weight=3.0, loss="cross_entropy"),
]


@pytest.mark.parametrize("options", AE_CASES)
def test_autoencoder_under_both_kernels_agrees_and_its_gradient_checks(options, kernels_kind):
    rng = np.random.default_rng(3)
    X = rng.random((700, 9))  # several blocks on each thread
    _tied = options.get("tied", False)
    n = 9 * 5 + 5 + 9 if _tied else 2 * 9 * 5 + 5 + 9
    theta = rng.normal(0, 0.5, n)
    kwargs = dict(alpha=1e-3, sparsity_target=0.1, **options)
    stackae.set_block_rows(64)
    try:
        kernels_kind("numpy")
        cost, grad = sparse_autoencoder_cost(theta, X, 5, **kwargs)
        kernels_kind("numba")
        got_cost, got_grad = sparse_autoencoder_cost(theta, X, 5, **kwargs)
        assert check_gradient(lambda t: sparse_autoencoder_cost(t, X[:40], 5, **kwargs), theta) < 1e-8
    finally:
        stackae.set_block_rows(None)
    assert got_cost == pytest.approx(cost, rel=1e-13)
    np.testing.assert_allclose(got_grad, grad, rtol=1e-11, atol=1e-15)


@pytest.mark.parametrize("dtype", DTYPES)
@pytest.mark.parametrize("name", ["sigmoid", "relu", "tanh"])
@pytest.mark.parametrize("width", [32, 29])  # 29: the random numbers' rows are padded (a strided view)
def test_dropout_masks_and_deltas_match_the_numpy_kernels(dtype, name, width):
    rng = np.random.default_rng(5)
    A = Kernels(np).activate(name, rng.normal(0, 2, (43, width)).astype(dtype))
    G = rng.normal(0, 1, (43, width)).astype(dtype)
    ref, k = _numpy.NumpyKernels(), CompiledKernels()
    want_A, want_memo = ref.dropout(name, A.copy(), 7, 2, 100, 0.4, "F")
    want_G, want_sums = ref.dropout_delta(name, G.copy(), want_A, want_memo)
    for _ in range(2):  # the second call reuses the scratch buffers
        got_A, memo = k.dropout(name, A.copy(), 7, 2, 100, 0.4, "F")
        np.testing.assert_array_equal(got_A, want_A)  # the same mask, applied alike
        got_G, got_sums = k.dropout_delta(name, G.copy(), got_A, memo)
        np.testing.assert_allclose(got_G, want_G, **_close(dtype))
        np.testing.assert_allclose(got_sums, want_sums, **_close(dtype))
    np.testing.assert_array_equal(k.dropped(A, 7, 0, 100, 0.2), ref.dropped(A, 7, 0, 100, 0.2))
    dead = np.full((1, width), np.nan, dtype)  # a NaN stays NaN, kept or dropped
    assert np.isnan(k.dropout_delta(name, np.ones_like(dead), *k.dropout(name, dead, 7, 2, 0, 0.5, "F"))[0]).all()


@pytest.mark.parametrize("dropout", [0.0, (0.2, 0.5, 0.0), (0.2, 0.5, 0.3)])
@pytest.mark.parametrize("activation", ["sigmoid", "relu"])
def test_stack_under_both_kernels_agrees_and_its_gradient_checks(dropout, activation, kernels_kind):
    rng = np.random.default_rng(4)
    X, y = rng.random((500, 8)), rng.integers(0, 3, 500)
    sizes = (8, 6, 5, 3)
    theta = rng.normal(0, 0.5, stackae.n_params(sizes))
    kwargs = dict(alpha=1e-3, activation=activation, dropout=dropout, dropout_seed=7)
    kernels_kind("numpy")
    cost, grad = stack_cost(theta, X, y, (6, 5), 3, **kwargs)
    kernels_kind("numba")
    got_cost, got_grad = stack_cost(theta, X, y, (6, 5), 3, **kwargs)
    if activation == "sigmoid":  # ReLU's kinks defeat a numeric gradient at random points
        assert check_gradient(lambda t: stack_cost(t, X[:50], y[:50], (6, 5), 3, **kwargs), theta) < 1e-8
    assert got_cost == pytest.approx(cost, rel=1e-13)
    np.testing.assert_allclose(got_grad, grad, rtol=1e-11, atol=1e-15)


def test_the_kernels_are_chosen_by_set_kernels_then_the_environment(monkeypatch, kernels_kind):
    monkeypatch.delenv("STACKAE_KERNELS", raising=False)
    kernels_kind(None)
    assert stackae.get_kernels() == "numba"  # installed here
    assert type(_rows.new_kernels()) is CompiledKernels
    monkeypatch.setenv("STACKAE_KERNELS", "numpy")
    kernels_kind(None)
    assert stackae.get_kernels() == "numpy"
    assert type(_rows.new_kernels()) is _numpy.NumpyKernels
    kernels_kind("numba")
    assert stackae.get_kernels() == "numba"


def test_bad_kernel_choices_are_clear_errors(monkeypatch, kernels_kind):
    with pytest.raises(ValueError, match=r"^'kernels' must be 'numba', 'numpy' or None, got 'fortran'\.$"):
        stackae.set_kernels("fortran")
    monkeypatch.setenv("STACKAE_KERNELS", "C")
    kernels_kind(None)
    with pytest.raises(ValueError, match=r"^STACKAE_KERNELS must be 'numba' or 'numpy', got 'C'\.$"):
        stackae.get_kernels()
    monkeypatch.setattr(_registry, "_numba_available", lambda: False)
    with pytest.raises(
        ImportError, match=r"^'kernels' is 'numba' but Numba is not installed: pip install 'stackae\[fast\]'\.$"
    ):
        stackae.set_kernels("numba")
    monkeypatch.delenv("STACKAE_KERNELS")
    kernels_kind(None)
    assert stackae.get_kernels() == "numpy"  # without Numba, the default falls back


def test_compiled_kernels_that_fail_to_load_fall_back_with_a_warning(monkeypatch, kernels_kind):
    """Numba installed but the kernels' module failing to load (a NumPy Numba does not
    support, no writable cache folder): the default is the NumPy kernels, with a warning."""
    import sys

    monkeypatch.delenv("STACKAE_KERNELS", raising=False)
    monkeypatch.setitem(sys.modules, "stackae._rows._compiled", None)  # importing it now fails
    kernels_kind(None)
    with pytest.warns(RuntimeWarning, match=r"^stackae's compiled kernels could not be loaded \(ModuleNotFoundError: "):
        assert stackae.get_kernels() == "numpy"
    assert type(_rows.new_kernels()) is _numpy.NumpyKernels


def test_each_thread_switches_its_kernels_when_the_choice_changes(kernels_kind):
    kernels_kind("numpy")
    assert type(_numpy._thread_kernels()) is _numpy.NumpyKernels
    kernels_kind("numba")
    assert type(_numpy._thread_kernels()) is CompiledKernels


@pytest.mark.parametrize("dtype", DTYPES)
@pytest.mark.parametrize("solver", ["adam", "sgd", "nesterov"])
def test_optimizer_steps_match_the_numpy_steps(dtype, solver, kernels_kind):
    from stackae.optim import _Adam, _SGDMomentum

    rng = np.random.default_rng(5)
    theta0 = rng.normal(size=1000).astype(dtype)
    grads = [rng.normal(size=1000).astype(dtype) for _ in range(4)]
    results = {}
    for kind in ("numpy", "numba"):
        kernels_kind(kind)
        theta = theta0.copy()
        if solver == "adam":
            stepper = _Adam(theta, 1e-2)
        else:
            stepper = _SGDMomentum(theta, 0.1, momentum=0.9, nesterov=solver == "nesterov")
        for g in grads:
            stepper.step(theta, g, 0.05)
        results[kind] = (theta, *stepper.state().values())
    for got, want in zip(results["numba"], results["numpy"]):
        if isinstance(want, np.ndarray):
            np.testing.assert_allclose(got, want, rtol=1e-13 if dtype == np.float64 else 1e-5, atol=1e-7)
        else:
            assert got == want  # Adam's step count
    assert not np.array_equal(results["numba"][0], theta0)


def test_optimizer_steps_on_arrays_the_kernel_does_not_take_use_numpy(kernels_kind):
    from stackae.optim import _Adam

    kernels_kind("numba")
    theta = np.zeros((4, 3))[:, 0]  # a strided view: the NumPy path
    stepper = _Adam(theta, 0.1)
    stepper.step(theta, np.ones(4), 0.1)
    np.testing.assert_allclose(theta, -0.1, rtol=1e-6)
    torch = pytest.importorskip("torch")  # a device's tensors: refused by the kernels, not an error
    from stackae._rows import _compiled

    t = torch.zeros(4, dtype=torch.float32)
    assert not _compiled.adam_step(t, t.clone(), t.clone(), torch.ones(4), 0.9, 0.999, 1e-8, 0.1)
    assert not _compiled.scaled_plus(t, t, 2.0)


@pytest.mark.parametrize("dtype", DTYPES)
def test_max_norm_matches_the_numpy_projection(dtype, kernels_kind):
    """Columns over the bound scaled to it, the others (and NaN columns) left alone, under
    both kernel sets; a stack whose columns are all under it is left bit for bit."""
    from stackae.estimators._stages import max_norm_projection

    rng = np.random.default_rng(6)
    sizes = (37, 23, 19, 4)  # widths that are not multiples of a vector
    n = sum(a * b for a, b in zip(sizes[:-1], sizes[1:])) + sum(sizes[1:])
    theta0 = rng.normal(0, 0.5, n).astype(dtype)
    theta0[: 37 * 23].reshape(37, 23)[:, 5] = np.nan
    results = {}
    for kind in ("numpy", "numba"):
        kernels_kind(kind)
        theta = theta0.copy()
        max_norm_projection(sizes, 2.0)(theta)
        results[kind] = theta
    np.testing.assert_allclose(results["numba"], results["numpy"], rtol=4 * EPS[dtype], equal_nan=True)
    W1 = results["numba"][: 37 * 23].reshape(37, 23)
    norms = np.linalg.norm(np.delete(W1, 5, axis=1), axis=0)
    assert norms.max() <= 2.0 * (1 + 4 * EPS[dtype]) and np.sum(norms > 1.99) >= 10  # scaled, not zeroed
    assert np.isnan(W1[:, 5]).all()
    hidden_weights, biases = 37 * 23 + 23 * 19, 23 + 19 + 4
    free = slice(hidden_weights, n)  # the softmax's weights and every bias are not projected
    np.testing.assert_array_equal(results["numba"][free], theta0[free])
    assert n - hidden_weights == 19 * 4 + biases
    small = theta0 * 0.01
    small[np.isnan(small)] = 0
    before = small.copy()
    max_norm_projection(sizes, 2.0)(small)
    np.testing.assert_array_equal(small, before)


@pytest.mark.parametrize("dtype", DTYPES)
def test_the_gradient_vector_is_written_as_numpy_would_pack_it(dtype, kernels_kind):
    """objectives._gradient: each piece times its scale plus its decay, in order, and
    the decay's cost, under both kernel sets; pieces of mixed dtypes take the NumPy path."""
    from stackae.objectives import _gradient

    rng = np.random.default_rng(6)
    gW, W = rng.normal(size=(30, 7)).astype(dtype), rng.normal(size=(30, 7)).astype(dtype)
    gV, V = rng.normal(size=(7, 5)).astype(dtype), rng.normal(size=(5, 7)).astype(dtype).T  # a transposed view
    gb = rng.normal(size=7).astype(dtype)
    pieces = [(gW, 1, W, 0.3), (gV, 0.25, V, 0.3), (gb, 0.5, None, 0), (gb, 1, None, 0)]
    want = np.concatenate([(gW + 0.3 * W).ravel(), (0.25 * gV + 0.3 * V).ravel(), 0.5 * gb, gb])
    want_cost = 0.15 * (np.sum(W.astype(np.float64) ** 2) + np.sum(V.astype(np.float64) ** 2))
    rows = _rows.rows_of(np.zeros((2, 3), dtype))
    for kind in ("numpy", "numba"):
        kernels_kind(kind)
        got, cost = _gradient(rows, pieces)
        assert got.dtype == dtype
        np.testing.assert_allclose(got, want, **_close(dtype))
        assert cost == pytest.approx(want_cost, rel=1e-12 if dtype == np.float64 else 1e-5)
    mixed = [(gW, 1, W, 0.3), (gb.astype(np.float64), 1, None, 0)]
    got, _ = _gradient(rows, mixed)
    assert got.dtype == np.float64
    np.testing.assert_allclose(got, np.concatenate([(gW + 0.3 * W).ravel(), gb]), **_close(dtype))


def test_the_kernels_run_as_python_under_numba_disable_jit():
    """NUMBA_DISABLE_JIT=1 (a debugging switch) runs the kernels as Python: exp falls back
    to NumPy's, so the layer and softmax kernels still give the reference's results."""
    import subprocess
    import sys

    code = (
        "import numpy as np\n"
        "from stackae._rows._compiled import CompiledKernels\n"
        "from stackae._rows._kernels import Kernels\n"
        "k, ref = CompiledKernels(), Kernels(np)\n"
        "z = np.array([[0.0, 3.0, -30.0, 50.0]], np.float32)\n"
        "np.testing.assert_allclose(k.activate('sigmoid', z.copy()), ref.activate('sigmoid', z.copy()), rtol=1e-6)\n"
        "S, y = np.array([[1.0, 2.0], [0.5, -1.0]]), np.array([1, 0])\n"
        "np.testing.assert_allclose(k.softmax_delta(S.copy(), y, 0.5)[1], ref.softmax_delta(S.copy(), y, 0.5)[1])\n"
        "print('ok')\n"
    )
    env = {**__import__("os").environ, "NUMBA_DISABLE_JIT": "1"}
    done = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, env=env, timeout=120)
    assert done.returncode == 0, done.stderr
    assert done.stdout.strip() == "ok"
