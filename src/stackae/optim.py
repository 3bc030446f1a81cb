"""Optimizers over a flat parameter vector. They know no model: they take a function
``fun(theta) -> (cost, grad)`` and a starting ``theta``, and report progress under a
stage name.

Every optimizer here:

* stops with :class:`~stackae.exceptions.NonFiniteError` when a cost or gradient is
  NaN or infinite, keeping the last finite parameters in the error;
* treats Ctrl-C (``KeyboardInterrupt``) as "end this stage now": it returns the best
  parameters reached so far with ``interrupted=True``.
"""

from __future__ import annotations

import time
from collections.abc import Callable
from dataclasses import dataclass, field

import numpy as np
from scipy.optimize import minimize

from ._progress import Progress
from .exceptions import NonFiniteError

__all__ = ["OptimizeResult", "lbfgs"]


@dataclass
class OptimizeResult:
    """What one optimization stage produced."""

    theta: np.ndarray
    cost: float
    n_iter: int
    converged: bool
    loss_curve: list[float] = field(default_factory=list)
    message: str = ""
    interrupted: bool = False
    seconds: float = 0.0


class _Guarded:
    """Wraps ``fun``: checks finiteness and remembers the best accepted iterate."""

    def __init__(self, fun: Callable, theta0: np.ndarray, stage: str):
        self.fun = fun
        self.stage = stage
        self.best_theta = theta0.copy()
        self.best_cost = np.inf
        self.iteration = 0

    def __call__(self, theta):
        cost, grad = self.fun(theta)
        if not np.isfinite(cost) or not np.all(np.isfinite(grad)):
            what = "cost" if not np.isfinite(cost) else "gradient"
            raise NonFiniteError(
                f"Training stage '{self.stage}' produced a non-finite {what} at iteration "
                f"{self.iteration + 1}. Try a smaller learning rate or weight scale, and "
                "check that the input is scaled (e.g. pixels divided by 255) and finite.",
                stage=self.stage,
                iteration=self.iteration,
                theta=self.best_theta.copy(),
            )
        return cost, grad

    def accept(self, theta, cost):
        self.iteration += 1
        if cost <= self.best_cost:
            self.best_cost = float(cost)
            self.best_theta[...] = theta


def lbfgs(
    fun: Callable,
    theta0: np.ndarray,
    *,
    max_iter: int,
    tol: float = 1e-6,
    maxcor: int = 10,
    stage: str = "lbfgs",
    verbose: bool = False,
) -> OptimizeResult:
    """Full-batch L-BFGS (scipy's L-BFGS-B without bounds), as UFLDL trains every stage.

    Parameters
    ----------
    fun : callable ``fun(theta) -> (cost, grad)``
    theta0 : ndarray of shape (n_params,)
    max_iter : int
        Iterations (not function evaluations); 0 returns ``theta0`` untouched.
    tol : float
        Stop when the largest gradient component is at most ``tol`` (scipy's ``gtol``).
    maxcor : int
        Correction pairs kept (scipy's default 10; UFLDL's minFunc keeps 100).
    stage : str
        Name shown in progress lines and errors.
    verbose : bool
        Show progress on stderr.
    """
    theta0 = np.array(theta0, dtype=np.float64)
    start = time.perf_counter()
    if max_iter == 0:
        cost = float(fun(theta0)[0])
        return OptimizeResult(theta0, cost, 0, True, [cost], "max_iter=0", seconds=0.0)
    guarded = _Guarded(fun, theta0, stage)
    progress = Progress(stage, max_iter, enabled=verbose)
    curve: list[float] = []

    def callback(intermediate_result):
        guarded.accept(intermediate_result.x, intermediate_result.fun)
        curve.append(float(intermediate_result.fun))
        progress.update(guarded.iteration, intermediate_result.fun)

    interrupted = False
    try:
        res = minimize(
            guarded,
            theta0,
            jac=True,
            method="L-BFGS-B",
            callback=callback,
            options={"maxiter": int(max_iter), "gtol": tol, "maxcor": int(maxcor), "maxfun": 20 * int(max_iter) + 20},
        )
        theta, cost, n_iter = res.x, float(res.fun), int(res.nit)
        message = str(res.message)
        converged = res.status != 1  # 1: iteration or evaluation limit reached
    except KeyboardInterrupt:
        interrupted = True
        if np.isfinite(guarded.best_cost):
            theta, cost = guarded.best_theta, guarded.best_cost
        else:
            theta, cost = theta0, float(fun(theta0)[0])
        n_iter, converged, message = guarded.iteration, False, "interrupted"
    if not curve or curve[-1] != cost:
        curve.append(cost)
    progress.close(n_iter, cost, "interrupted" if interrupted else "")
    return OptimizeResult(
        theta=theta,
        cost=cost,
        n_iter=n_iter,
        converged=converged,
        loss_curve=curve,
        message=message,
        interrupted=interrupted,
        seconds=time.perf_counter() - start,
    )
