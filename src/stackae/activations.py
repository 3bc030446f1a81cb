r"""Activation functions and their derivatives, written from the activation's output.

Each function works in place when given ``out`` (the hot loops pass the
pre-activation buffer itself), never warns and never returns a non-finite value for
finite input, however large.
"""

from __future__ import annotations

import numpy as np
from scipy.special import expit

__all__ = ["sigmoid", "sigmoid_derivative", "ACTIVATIONS", "DERIVATIVES"]


def sigmoid(Z: np.ndarray, out: np.ndarray | None = None) -> np.ndarray:
    r"""Logistic sigmoid.

    .. math:: f(z) = \frac{1}{1 + e^{-z}}

    Computed by :func:`scipy.special.expit`, one pass, no overflow warning: ``f(-1000)``
    is exactly 0 and ``f(1000)`` exactly 1.
    """
    return expit(Z, out=out)


def sigmoid_derivative(A: np.ndarray, out: np.ndarray | None = None) -> np.ndarray:
    r"""Derivative of the sigmoid from its output ``A = f(Z)``.

    .. math:: f'(z) = f(z)\,(1 - f(z)) = A\,(1 - A)
    """
    if out is None:
        return A * (1.0 - A)
    np.subtract(1.0, A, out=out)
    out *= A
    return out


ACTIVATIONS = {"sigmoid": sigmoid}
DERIVATIVES = {"sigmoid": sigmoid_derivative}
