"""The output heads (stackae.heads) inside the stack's objective: gradients by central
differences, pinned values at zero weights, agreement with PyTorch's autograd, the
softmax head equal to the classifier's own objective, other engines equal to NumPy."""

from __future__ import annotations

import numpy as np
import pytest

from stackae import n_params
from stackae.gradcheck import check_gradient
from stackae.heads import SOFTMAX, CrossEntropyHead, SquaredErrorHead, reconstruction_head
from stackae.objectives import stack_cost

TOL = 1e-9
ORDER = 4

# (head, whether y is a (m, k) target, outputs given the features)
HEADS = {
    "regression": (SquaredErrorHead(), "targets"),
    "sigmoid regression": (SquaredErrorHead("sigmoid"), "unit targets"),
    "reconstruction, sigmoid": (reconstruction_head("sigmoid", "squared"), None),
    "reconstruction, linear": (reconstruction_head("linear", "squared"), None),
    "reconstruction, cross-entropy": (reconstruction_head("sigmoid", "cross_entropy"), None),
}
OPTIONS = {
    "plain": {},
    "decay all": {"decay": "all"},
    "relu, dropout": {"activation": "relu", "dropout": (0.2, 0.5, 0.5), "dropout_seed": 3},
    "tanh, adversarial": {"activation": "tanh", "adversarial": 0.05, "adversarial_weight": 0.3},
}


def _problem(kind, rng, m=9, n=7, k=3):
    X = rng.random((m, n))
    if kind == "targets":
        return X, rng.normal(size=(m, k)), k
    if kind == "unit targets":
        return X, rng.random((m, k)), k
    return X, None, n


@pytest.mark.parametrize("options", OPTIONS.values(), ids=OPTIONS)
@pytest.mark.parametrize("name", HEADS)
def test_head_gradient(name, options):
    head, kind = HEADS[name]
    rng = np.random.default_rng(len(name))
    X, y, k = _problem(kind, rng)
    theta = rng.normal(0.0, 0.5, n_params((X.shape[1], 5, 4, k)))

    def fun(t):
        return stack_cost(t, X, y, (5, 4), k, alpha=2e-3, head=head, **options)

    assert check_gradient(fun, theta, order=ORDER) < TOL


def test_one_target_as_a_vector_or_a_column():
    rng = np.random.default_rng(0)
    X, y = rng.random((8, 4)), rng.normal(size=8)
    theta = rng.normal(0.0, 0.5, n_params((4, 3, 1)))
    vector = stack_cost(theta, X, y, (3,), 1, alpha=1e-3, head=SquaredErrorHead())
    column = stack_cost(theta, X, y[:, None], (3,), 1, alpha=1e-3, head=SquaredErrorHead())
    assert vector[0] == column[0]
    np.testing.assert_array_equal(vector[1], column[1])


def test_pinned_values_at_zero_weights():
    rng = np.random.default_rng(1)
    X, Y = rng.random((6, 5)), rng.normal(size=(6, 2))
    zeros = np.zeros(n_params((5, 3, 2)))
    # S = 0: J = (1/2m) sum ||y_i||^2
    cost, _ = stack_cost(zeros, X, Y, (3,), 2, alpha=0.5, head=SquaredErrorHead())
    assert cost == pytest.approx(0.5 * np.sum(Y**2) / 6, rel=1e-14)
    zeros = np.zeros(n_params((5, 3, 5)))
    # sigmoid outputs 1/2 everywhere
    cost, _ = stack_cost(zeros, X, None, (3,), 5, alpha=0.0, head=reconstruction_head("sigmoid", "squared"))
    assert cost == pytest.approx(0.5 * np.sum((0.5 - X) ** 2) / 6, rel=1e-14)
    # softplus(0) - x * 0 = log 2 for each of the 5 outputs
    cost, _ = stack_cost(zeros, X, None, (3,), 5, alpha=0.0, head=reconstruction_head("sigmoid", "cross_entropy"))
    assert cost == pytest.approx(5 * np.log(2.0), rel=1e-14)


def test_softmax_head_is_the_default():
    rng = np.random.default_rng(2)
    X, y = rng.random((10, 6)), rng.integers(0, 3, 10)
    theta = rng.normal(0.0, 0.5, n_params((6, 4, 3)))
    default = stack_cost(theta, X, y, (4,), 3, alpha=1e-3)
    explicit = stack_cost(theta, X, y, (4,), 3, alpha=1e-3, head=SOFTMAX)
    assert default[0] == explicit[0]
    np.testing.assert_array_equal(default[1], explicit[1])


@pytest.mark.parametrize("name", HEADS)
def test_heads_against_autograd(name):
    torch = pytest.importorskip("torch")
    head, kind = HEADS[name]
    rng = np.random.default_rng(5)
    X, y, k = _problem(kind, rng, m=11)
    sizes = (X.shape[1], 6, 4, k)
    theta = rng.normal(0.0, 0.5, n_params(sizes))
    cost, grad = stack_cost(theta, X, y, (6, 4), k, alpha=1e-3, decay="all", head=head)

    t = torch.tensor(theta, requires_grad=True)
    shapes = list(zip(sizes[:-1], sizes[1:]))
    offset, weights = 0, []
    for a, b in shapes:
        weights.append(t[offset : offset + a * b].reshape(a, b))
        offset += a * b
    biases = []
    for _, b in shapes:
        biases.append(t[offset : offset + b])
        offset += b
    A = torch.tensor(X)
    for W, b in zip(weights[:-1], biases[:-1]):
        A = torch.sigmoid(A @ W + b)
    S = A @ weights[-1] + biases[-1]
    T = torch.tensor(X if y is None else y)
    if isinstance(head, CrossEntropyHead):
        data = torch.nn.functional.binary_cross_entropy_with_logits(S, T, reduction="sum")
    else:
        out = S if head.activation == "linear" else torch.sigmoid(S)
        data = 0.5 * torch.sum((out - T) ** 2)
    J = data / X.shape[0] + 0.5e-3 * sum(torch.sum(W * W) for W in weights)
    J.backward()
    assert cost == pytest.approx(J.item(), rel=1e-12)
    np.testing.assert_allclose(grad, t.grad.numpy(), rtol=1e-10, atol=1e-13)


@pytest.mark.parametrize("name", ["regression", "reconstruction, cross-entropy"])
def test_heads_on_other_engines_equal_numpy(name):
    head, kind = HEADS[name]
    rng = np.random.default_rng(7)
    X, y, k = _problem(kind, rng, m=40)
    theta = rng.normal(0.0, 0.5, n_params((X.shape[1], 5, k)))
    # Dask: the masks follow the rows, so dropout too; PyTorch draws its own masks
    ref = stack_cost(theta, X, y, (5,), k, alpha=1e-3, head=head, dropout=0.3)
    da = pytest.importorskip("dask.array")
    got = stack_cost(theta, da.from_array(X, chunks=(13, -1)), y, (5,), k, alpha=1e-3, head=head, dropout=0.3)
    assert got[0] == pytest.approx(ref[0], rel=1e-12)
    np.testing.assert_allclose(got[1], ref[1], rtol=1e-10, atol=1e-14)
    torch = pytest.importorskip("torch")
    ref = stack_cost(theta, X, y, (5,), k, alpha=1e-3, head=head)
    targets = None if y is None else torch.asarray(y)
    got = stack_cost(torch.asarray(theta), torch.asarray(X), targets, (5,), k, alpha=1e-3, head=head)
    assert got[0] == pytest.approx(ref[0], rel=1e-12)
    np.testing.assert_allclose(got[1].numpy(), ref[1], rtol=1e-10, atol=1e-14)


def test_head_errors():
    rng = np.random.default_rng(0)
    X = rng.random((4, 3))
    theta = np.zeros(n_params((3, 2, 3)))
    with pytest.raises(
        ValueError, match=r"^'y' must be None for a head that reconstructs its input \(its target is X\)\.$"
    ):
        stack_cost(theta, X, np.zeros(4), (2,), 3, alpha=0.0, head=reconstruction_head("sigmoid", "squared"))
    with pytest.raises(ValueError, match=r"^'y' must have shape \(4, 3\), got \(4, 2\)\.$"):
        stack_cost(theta, X, np.zeros((4, 2)), (2,), 3, alpha=0.0, head=SquaredErrorHead())
    with pytest.raises(ValueError, match=r"^'head' must be an output head of stackae\.heads, got 'mse'\.$"):
        stack_cost(theta, X, np.zeros((4, 3)), (2,), 3, alpha=0.0, head="mse")
    with pytest.raises(ValueError, match=r"^reconstruction_loss='cross_entropy' needs output_activation='sigmoid'"):
        reconstruction_head("linear", "cross_entropy")
