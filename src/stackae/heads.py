r"""Output heads: what sits on top of a stack's last hidden layer, and what it is trained on.

A stacked network is the same chain of hidden layers whatever it is for; what differs
is its output (as scikit-learn's ``BaseMultilayerPerceptron`` serves ``MLPClassifier``
and ``MLPRegressor``: another output activation, another loss, another target
encoding). A head says, for scores ``S = A_L W + b`` of shape ``(m, k)`` (``A_L`` the
last hidden layer's activations, ``W`` the output weights):

* in a block of rows (:meth:`Head.block_delta`): the block's data cost and the delta
  on the scores ``D_S`` (already times ``1/m``), from which backpropagation proceeds
  unchanged (``grad W = A_L^T D_S``, ``D_L = (D_S W^T) * f'(Z_L)``, ...);
* for prediction (:meth:`Head.outputs`): the network's outputs from the scores;
* for training (:meth:`Head.init_output`, :meth:`Head.score`): how the output layer
  starts, and the validation score early stopping maximises (the targets are encoded
  by the estimators: class indices for the softmax, a float matrix for a regression).

============= ==================== ========================================================== =========================
head          outputs              data cost :math:`m J` of a block                           :math:`D_S` (times m)
============= ==================== ========================================================== =========================
softmax       :math:`P=softmax(S)` :math:`-\sum_i \log P_{i,y_i}`                             :math:`P - Y` (one-hot)
squared error :math:`g(S)`         :math:`\frac12\sum_i\|g(S_i) - T_i\|^2`                    :math:`(g(S) - T)\,g'(S)`
cross-entropy :math:`\sigma(S)`    :math:`\sum_{ij} \mathrm{softplus}(S_{ij}) - T_{ij}S_{ij}` :math:`\sigma(S) - T`
============= ==================== ========================================================== =========================

The squared error's and the cross-entropy's target ``T`` is ``y`` (regression) or the
block's input ``X`` itself (``target="input"``: reconstruction, the unrolled deep
autoencoder; a denoising block's clean rows when it has them).

Heads are frozen dataclasses: hashable, picklable (they travel to Dask workers inside
:class:`stackae.objectives.StackSpec`) and compared by value in checkpoints.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from ._xp import namespace
from .activations import ACTIVATIONS, OUTPUT_ACTIVATIONS, check_activation
from .exceptions import choice_error

__all__ = [
    "Head",
    "SoftmaxHead",
    "SquaredErrorHead",
    "CrossEntropyHead",
    "SOFTMAX",
    "reconstruction_head",
    "output_delta",
]


def output_delta(k, activation: str, loss: str, A, W, b, T, key=None, w=None):
    r"""A reconstruction-style output layer: ``Z = A W + b``, outputs ``g(Z)``, target ``T``.

    Returns the block's loss (a float, or a 0-d array on a device), the delta on ``Z``
    (not yet times ``1/m``) and its column sums. ``loss="squared"``:
    :math:`\frac12\|g(Z) - T\|^2` and :math:`(g(Z) - T) g'(Z)`; ``"cross_entropy"``
    (sigmoid ``g``): :math:`\sum \mathrm{softplus}(z) - t z` and :math:`\sigma(Z) - T`.
    ``w``: the rows' weights (each row's loss and delta times its weight), or None.
    Shared by the autoencoders' decoder and the stack's squared-error and
    cross-entropy heads.
    """
    if w is not None:
        return _weighted_output_delta(k, activation, loss, A, W, b, T, key, w)
    if loss == "cross_entropy":
        Z = k.affine(A, W, b, key)  # (b, h) @ (h, n) -> (b, n)
        # J_i = sum_j softplus(z_ij) - t_ij z_ij  (= -t log g - (1 - t) log(1 - g), g = sigmoid(z))
        cost = k.total(k.xp.logaddexp(Z, 0.0) - T * Z)
        D = k.activate("sigmoid", Z)
        D -= T  # delta = (g(z) - t)
        return cost, D, k.sum_rows(D)
    # (1/2) ||g(Z) - T||^2 and delta = (g(Z) - T) * g'(Z); column sums of delta
    return k.squared_error_delta(activation, A, W, b, T, key)  # (b, h) @ (h, n)


def _weighted_output_delta(k, activation, loss, A, W, b, T, key, w):
    """:func:`output_delta` with row weights ``w``: ``sum_i w_i J_i`` and ``w_i delta_i``."""
    w_col = w[:, None]
    Z = k.affine(A, W, b, key)  # (b, h) @ (h, n) -> (b, n)
    if loss == "cross_entropy":
        cost = k.total(w_col * (k.xp.logaddexp(Z, 0.0) - T * Z))
        D = k.activate("sigmoid", Z)
        D -= T
    else:
        G = k.activate(activation, Z)
        F = None if activation == "linear" else k.derivative(activation, G, "F3")
        D = G - T
        cost = 0.5 * k.total(w_col * D * D)
        if F is not None:
            D *= F
    D *= w_col
    return cost, D, k.sum_rows(D)


class Head:
    """The protocol every head keeps (see the module's docstring)."""

    #: the name of the stage that trains the output layer alone on fixed features
    stage: str = "output"
    #: whether the targets are the rows' labels ``y`` (else the input itself)
    uses_y: bool = True

    def block_delta(self, k, A, W, b, block, inv_m):
        """``(cost, D_S, grad b)`` of one block: the block's data cost (a sum over its
        rows, not yet times ``1/m``), the delta on the scores times ``inv_m`` and its
        column sums; with row weights ``block.w``, each row's cost and delta times its
        weight (``inv_m`` is then one over the weights' sum)."""
        raise NotImplementedError

    def outputs(self, S):
        """The network's outputs from its scores ``S``, in ``S``'s namespace."""
        raise NotImplementedError

    def score(self, S, targets) -> float:
        """The validation score of NumPy scores ``S`` against encoded ``targets`` (higher is better)."""
        raise NotImplementedError

    def init_output(self, n_in: int, n_out: int, rng) -> np.ndarray:
        """The output layer's first ``[W, b]`` (float64): UFLDL's ``0.005 * randn`` weights, zero biases."""
        theta = np.zeros(n_in * n_out + n_out)
        theta[: n_in * n_out] = 0.005 * rng.standard_normal(n_in * n_out)
        return theta


@dataclass(frozen=True)
class SoftmaxHead(Head):
    """Softmax cross-entropy on class indices ``y`` (UFLDL's softmax regression)."""

    stage = "softmax"

    def block_delta(self, k, A, W, b, block, inv_m):
        # S = A_L Theta + c ; P = softmax(S) row-wise
        # J = -(1/m) sum_i log P[i, y_i] = -(1/m) sum_i (S[i, y_i] - log sum_j exp S[i, j])
        # delta_S = (P - Y) / m  (times each row's weight)
        S = k.affine(A, W, b, "S")  # (b, n_L) @ (n_L, k) -> (b, k)
        return k.softmax_delta(S, block.y, inv_m, block.w)

    def outputs(self, S):

        xp = namespace(S)
        P = S - xp.max(S, axis=1, keepdims=True)
        P = xp.exp(P)
        P /= xp.sum(P, axis=1, keepdims=True)
        return P

    def score(self, S, targets) -> float:
        """Accuracy."""
        return float(np.mean(np.argmax(S, axis=1) == targets))


def _r2(P, T) -> float:
    """The coefficient of determination averaged over the targets (scikit-learn's default)."""
    T = T.reshape(P.shape)
    residual = np.sum((T - P) ** 2, axis=0, dtype=np.float64)
    total = np.sum((T - T.mean(axis=0)) ** 2, axis=0, dtype=np.float64)
    with np.errstate(divide="ignore", invalid="ignore"):
        r2 = np.where(total > 0, 1.0 - residual / np.where(total > 0, total, 1.0), np.where(residual == 0, 1.0, 0.0))
    return float(np.mean(r2))


class _TargetHead(Head):
    """A head whose target is ``y`` or, with ``target="input"``, the block's input (its
    clean rows, for a denoising block)."""

    target: str  # a field of each dataclass below

    def _check_target(self):
        if self.target not in ("y", "input"):
            raise choice_error("target", self.target, ("y", "input"))

    @property
    def uses_y(self) -> bool:  # type: ignore[override]  # Head's field, a property of the target here
        return self.target == "y"

    def _target(self, block):
        if self.target == "y":
            return block.y
        return block.X if block.T is None else block.T

    def block_delta(self, k, A, W, b, block, inv_m):
        cost, D, gb = output_delta(k, self.activation, self.loss, A, W, b, self._target(block), "S", block.w)
        D *= inv_m  # delta_S = (g(S) - T) * g'(S) / m ; for the cross-entropy (sigmoid(S) - T) / m
        return cost, D, gb * inv_m

    def outputs(self, S):
        return ACTIVATIONS[self.activation].f(S)


@dataclass(frozen=True)
class SquaredErrorHead(_TargetHead):
    """Squared error of outputs ``g(S)`` (``activation``: linear for regression, sigmoid
    for pixels in [0, 1]) against ``y`` or, with ``target="input"``, the input.

    The validation score is R^2 for targets ``y``, minus the mean loss per row for a
    reconstruction."""

    activation: str = "linear"
    target: str = "y"
    loss = "squared"

    def __post_init__(self):
        check_activation("output_activation", self.activation, OUTPUT_ACTIVATIONS)
        self._check_target()

    def score(self, S, targets) -> float:
        P = np.asarray(self.outputs(S))
        if self.target == "y":
            return _r2(P, np.asarray(targets))
        return -0.5 * float(np.sum((P - targets) ** 2, dtype=np.float64)) / P.shape[0]


@dataclass(frozen=True)
class CrossEntropyHead(_TargetHead):
    """Cross-entropy of sigmoid outputs against targets in [0, 1] (``y``, or the input
    with ``target="input"``): a deep autoencoder's reconstruction of pixels."""

    target: str = "input"
    activation = "sigmoid"
    loss = "cross_entropy"

    def __post_init__(self):
        self._check_target()

    def score(self, S, targets) -> float:
        """Minus the mean cross-entropy per row."""
        S = np.asarray(S, dtype=np.float64)
        return -float(np.sum(np.logaddexp(S, 0.0) - targets * S)) / S.shape[0]


#: The classifier's head (and the default of :class:`stackae.objectives.StackSpec`).
SOFTMAX = SoftmaxHead()


def reconstruction_head(output_activation: str, loss: str) -> Head:
    """The head that reconstructs the input: squared error of ``output_activation``
    units, or cross-entropy of sigmoid units (the autoencoders' own two losses)."""
    if loss == "cross_entropy":
        if output_activation != "sigmoid":
            raise ValueError(
                "reconstruction_loss='cross_entropy' needs output_activation='sigmoid' (outputs in (0, 1)), "
                f"got output_activation={output_activation!r}."
            )
        return CrossEntropyHead("input")
    if loss != "squared":
        raise choice_error("reconstruction_loss", loss, ("squared", "cross_entropy"))
    return SquaredErrorHead(output_activation, "input")
