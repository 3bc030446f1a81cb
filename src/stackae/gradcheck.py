r"""Central-difference gradient checking, usable from tests and the command line.

UFLDL's recipe: for every coordinate ``i``,

.. math:: g_i \approx \frac{J(\theta + \epsilon e_i) - J(\theta - \epsilon e_i)}{2\epsilon},
    \qquad \epsilon = 10^{-4},

and the analytic gradient is right when
``||num - ana|| / ||num + ana||`` is below about ``1e-9`` in float64.

That two-point stencil has a truncation error of order epsilon^2 times the third
derivative, which for random points of our objectives lands between 1e-10 and about
2e-9 (measured on the test suite's small networks), so a strict ``1e-9`` threshold is
a coin toss with it. ``order=4`` uses the four-point central stencil with the same
epsilon,

.. math:: g_i \approx \frac{J(\theta - 2\epsilon e_i) - 8J(\theta - \epsilon e_i)
    + 8J(\theta + \epsilon e_i) - J(\theta + 2\epsilon e_i)}{12\epsilon},

whose truncation error (order epsilon^4) is below rounding, leaving differences near
1e-11 for a correct gradient; the tests and ``stackae gradcheck`` use it so that a
threshold of 1e-9 separates right from wrong.
"""

from __future__ import annotations

from collections.abc import Callable

import numpy as np

__all__ = ["numerical_gradient", "relative_difference", "check_gradient", "check_gradient_apart_from_kinks"]


def numerical_gradient(fun: Callable, theta: np.ndarray, epsilon: float = 1e-4, order: int = 2) -> np.ndarray:
    """Central-difference gradient of ``fun`` at ``theta``.

    Parameters
    ----------
    fun : callable
        ``fun(theta)`` returns the cost, or a ``(cost, grad)`` pair (the gradient is
        ignored).
    theta : ndarray of shape (n_params,)
    epsilon : float
        Step on each coordinate.
    order : {2, 4}
        2: UFLDL's two-point stencil; 4: the four-point stencil.

    Returns
    -------
    ndarray of shape (n_params,), float64
    """
    if order not in (2, 4):
        raise ValueError(f"'order' must be 2 or 4, got {order!r}.")
    theta = np.array(theta, dtype=np.float64)
    if theta.ndim != 1:
        raise ValueError(f"'theta' must be 1-dimensional, got shape {theta.shape}.")

    def cost_at(i: int, step: float) -> float:
        saved = theta[i]
        theta[i] = saved + step
        value = fun(theta)
        theta[i] = saved
        return float(value[0] if isinstance(value, tuple) else value)

    grad = np.empty_like(theta)
    for i in range(theta.size):
        if order == 2:
            grad[i] = (cost_at(i, epsilon) - cost_at(i, -epsilon)) / (2.0 * epsilon)
        else:
            grad[i] = (
                cost_at(i, -2 * epsilon) - 8 * cost_at(i, -epsilon) + 8 * cost_at(i, epsilon) - cost_at(i, 2 * epsilon)
            ) / (12.0 * epsilon)
    return grad


def relative_difference(numerical: np.ndarray, analytic: np.ndarray) -> float:
    """``||num - ana|| / ||num + ana||`` (0 when both are zero)."""
    numerical = np.asarray(numerical, dtype=np.float64)
    analytic = np.asarray(analytic, dtype=np.float64)
    denominator = np.linalg.norm(numerical + analytic)
    if denominator == 0.0:
        return 0.0 if np.linalg.norm(numerical - analytic) == 0.0 else float("inf")
    return float(np.linalg.norm(numerical - analytic) / denominator)


def check_gradient(fun: Callable, theta: np.ndarray, epsilon: float = 1e-4, order: int = 2) -> float:
    """Relative difference between ``fun``'s analytic gradient and central differences.

    ``fun(theta)`` must return ``(cost, grad)``; ``epsilon`` and ``order`` as in
    :func:`numerical_gradient`.
    """
    _, analytic = fun(np.array(theta, dtype=np.float64))
    return relative_difference(numerical_gradient(fun, theta, epsilon, order), analytic)


def check_gradient_apart_from_kinks(
    fun: Callable, theta: np.ndarray, epsilon: float = 1e-4, order: int = 4, smoothness: float = 1e-9
) -> tuple[float, int]:
    """:func:`check_gradient` for objectives with kinks (ReLU units): ``(difference,
    n_apart)``.

    A coordinate whose central differences cross a kink (some unit's input changes sign
    within ``2 * epsilon``) gets a numerical derivative that is no derivative at all. It
    shows itself by its two estimates, at ``epsilon`` and at ``epsilon / 2``, which agree
    to rounding where ``fun`` is smooth and differ where a kink lies between: such
    coordinates (differing by more than ``smoothness`` relative) are judged apart, and
    the difference is taken over the others, so a wrong gradient still fails.
    """
    _, analytic = fun(np.array(theta, dtype=np.float64))
    analytic = np.asarray(analytic, dtype=np.float64)
    coarse = numerical_gradient(fun, theta, epsilon, order)
    fine = numerical_gradient(fun, theta, epsilon / 2, order)
    smooth = np.abs(coarse - fine) <= smoothness * np.maximum(1.0, np.abs(coarse))
    return relative_difference(coarse[smooth], analytic[smooth]), int(np.sum(~smooth))
