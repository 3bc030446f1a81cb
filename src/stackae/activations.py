r"""Activation functions, and their first and second derivatives written from the
activation's output ``A = f(Z)`` (backpropagation keeps ``A``, not ``Z``).

Written once against the array API (``xp`` is the input's namespace), so they run on
NumPy, PyTorch and CuPy alike; none warns or returns a non-finite value for finite
input, however large. The engines in :mod:`stackae._rows` may replace them by faster
in-place versions of the same formulas (NumPy, PyTorch) without changing the math.

======== =========================== ======================== ===================
name     :math:`f(z)`                :math:`f'` from ``A``    :math:`f''` from ``A``
======== =========================== ======================== ===================
sigmoid  :math:`1/(1+e^{-z})`        :math:`A(1-A)`           :math:`A(1-A)(1-2A)`
tanh     :math:`\tanh z`             :math:`1-A^2`            :math:`-2A(1-A^2)`
relu     :math:`\max(z, 0)`          :math:`[A>0]`            0
linear   :math:`z`                   1                        0
======== =========================== ======================== ===================
"""

from __future__ import annotations

from collections.abc import Callable
from typing import NamedTuple

from ._xp import namespace
from .exceptions import choice_error

__all__ = [
    "sigmoid",
    "sigmoid_derivative",
    "tanh",
    "relu",
    "linear",
    "Activation",
    "ACTIVATIONS",
    "HIDDEN_ACTIVATIONS",
    "OUTPUT_ACTIVATIONS",
]


def sigmoid(Z):
    r"""Logistic sigmoid :math:`f(z) = 1/(1 + e^{-z})`, in the overflow-free form
    :math:`e^{-|z|}`: ``f(-1000)`` is exactly 0, ``f(1000)`` exactly 1, ``f(0)`` 1/2."""
    xp = namespace(Z)
    E = xp.exp(-xp.abs(Z))
    return xp.where(Z >= 0, 1.0 / (1.0 + E), E / (1.0 + E))


def sigmoid_derivative(A):
    r""":math:`f'(z) = f(z)(1 - f(z)) = A(1 - A)`."""
    return A * (1.0 - A)


def _sigmoid_second(A):
    return A * (1.0 - A) * (1.0 - 2.0 * A)


def tanh(Z):
    r""":math:`f(z) = \tanh z`."""
    return namespace(Z).tanh(Z)


def _tanh_derivative(A):
    return 1.0 - A * A


def _tanh_second(A):
    return -2.0 * A * (1.0 - A * A)


def relu(Z):
    r""":math:`f(z) = \max(z, 0)`."""
    xp = namespace(Z)
    return xp.where(Z > 0, Z, xp.zeros_like(Z))


def _relu_derivative(A):
    xp = namespace(A)
    return xp.astype(A > 0, A.dtype)


def _zeros(A):
    return namespace(A).zeros_like(A)


def linear(Z):
    """:math:`f(z) = z`."""
    return Z


def _ones(A):
    return namespace(A).ones_like(A)


class Activation(NamedTuple):
    """One activation: ``f(Z)``, ``f'`` and ``f''`` from ``A = f(Z)``, and the range of ``f``."""

    name: str
    f: Callable
    derivative: Callable
    second_derivative: Callable
    low: float
    high: float


ACTIVATIONS = {
    "sigmoid": Activation("sigmoid", sigmoid, sigmoid_derivative, _sigmoid_second, 0.0, 1.0),
    "tanh": Activation("tanh", tanh, _tanh_derivative, _tanh_second, -1.0, 1.0),
    "relu": Activation("relu", relu, _relu_derivative, _zeros, 0.0, float("inf")),
    "linear": Activation("linear", linear, _ones, _zeros, -float("inf"), float("inf")),
}
#: Units a hidden layer may have.
HIDDEN_ACTIVATIONS = ("sigmoid", "tanh", "relu")
#: Units an autoencoder's reconstruction may have.
OUTPUT_ACTIVATIONS = ("sigmoid", "linear")


def check_activation(name: str, value, allowed) -> str:
    if value not in allowed:
        raise choice_error(name, value, allowed)
    return value
