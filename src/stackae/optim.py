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

__all__ = ["OptimizeResult", "lbfgs", "minibatch"]


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


def _check_finite(cost, grad, stage: str, where: str, iteration: int, last_finite: np.ndarray) -> None:
    """Raise :class:`NonFiniteError` (carrying a copy of ``last_finite``) unless the cost
    and the gradient are finite."""
    if np.isfinite(cost) and np.all(np.isfinite(grad)):
        return
    what = "cost" if not np.isfinite(cost) else "gradient"
    raise NonFiniteError(
        f"Training stage '{stage}' produced a non-finite {what} {where}. Try a smaller learning rate "
        "or weight scale, and check that the input is scaled (e.g. pixels divided by 255) and finite.",
        stage=stage,
        iteration=iteration,
        theta=last_finite.copy(),
    )


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
        _check_finite(cost, grad, self.stage, f"at iteration {self.iteration + 1}", self.iteration, self.best_theta)
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
    checkpoint: Callable[[dict], None] | None = None,
    checkpoint_every: int = 0,
    resume: dict | None = None,
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
    checkpoint : callable ``checkpoint(state)``, optional
        Called every ``checkpoint_every`` iterations with ``{"theta", "iteration",
        "loss_curve"}`` (the best iterate so far).
    resume : dict, optional
        A state given to ``checkpoint`` earlier: start from its ``theta`` with its
        iteration count and curve. L-BFGS's curvature history is not kept, so the
        path after a resume differs slightly from an uninterrupted one.
    """
    theta0 = np.array(theta0 if resume is None else resume["theta"], dtype=np.float64)
    done = 0 if resume is None else int(resume["iteration"])
    curve: list[float] = [] if resume is None else list(resume["loss_curve"])
    start = time.perf_counter()
    if max_iter - done <= 0:
        cost = float(fun(theta0)[0])
        return OptimizeResult(theta0, cost, done, True, curve or [cost], f"max_iter={max_iter}", seconds=0.0)
    guarded = _Guarded(fun, theta0, stage)
    guarded.iteration = done
    progress = Progress(stage, max_iter, enabled=verbose)

    def callback(intermediate_result):
        guarded.accept(intermediate_result.x, intermediate_result.fun)
        curve.append(float(intermediate_result.fun))
        progress.update(guarded.iteration, intermediate_result.fun)
        if checkpoint is not None and checkpoint_every and guarded.iteration % checkpoint_every == 0:
            checkpoint({"theta": guarded.best_theta, "iteration": guarded.iteration, "loss_curve": curve})

    interrupted = False
    try:
        res = minimize(
            guarded,
            theta0,
            jac=True,
            method="L-BFGS-B",
            callback=callback,
            options={
                "maxiter": int(max_iter - done),
                "gtol": tol,
                "maxcor": int(maxcor),
                "maxfun": 20 * int(max_iter - done) + 20,
            },
        )
        theta, cost, n_iter = res.x, float(res.fun), done + int(res.nit)
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


#: Learning rates used when ``learning_rate=None``.
DEFAULT_LEARNING_RATES = {"sgd": 0.1, "adam": 1e-3}


class _SGDMomentum:
    """``v = momentum * v - lr * g ; theta += v`` (classical momentum)."""

    def __init__(self, theta, learning_rate, momentum=0.9):
        self.lr, self.momentum = learning_rate, momentum
        self.velocity = np.zeros_like(theta)

    def state(self) -> dict:
        return {"velocity": self.velocity}

    def load(self, state: dict) -> None:
        self.velocity[...] = state["velocity"]

    def step(self, theta, grad):
        self.velocity *= self.momentum
        self.velocity -= self.lr * grad
        theta += self.velocity


class _Adam:
    """Adam (Kingma & Ba, 2015) with bias correction folded into the step size."""

    def __init__(self, theta, learning_rate, beta1=0.9, beta2=0.999, epsilon=1e-8):
        self.lr, self.beta1, self.beta2, self.epsilon = learning_rate, beta1, beta2, epsilon
        self.m = np.zeros_like(theta)
        self.v = np.zeros_like(theta)
        self.t = 0
        self._tmp = np.empty_like(theta)

    def state(self) -> dict:
        return {"m": self.m, "v": self.v, "t": self.t}

    def load(self, state: dict) -> None:
        self.m[...] = state["m"]
        self.v[...] = state["v"]
        self.t = int(state["t"])

    def step(self, theta, grad):
        self.t += 1
        self.m *= self.beta1
        self.m += (1 - self.beta1) * grad
        self.v *= self.beta2
        np.multiply(grad, grad, out=self._tmp)
        self._tmp *= 1 - self.beta2
        self.v += self._tmp
        lr = self.lr * np.sqrt(1 - self.beta2**self.t) / (1 - self.beta1**self.t)
        np.sqrt(self.v, out=self._tmp)
        self._tmp += self.epsilon
        np.divide(self.m, self._tmp, out=self._tmp)
        self._tmp *= lr
        theta -= self._tmp


def minibatch(
    fun: Callable,
    theta0: np.ndarray,
    n_samples: int,
    *,
    solver: str = "adam",
    max_iter: int,
    batch_size: int = 256,
    learning_rate: float | None = None,
    momentum: float = 0.9,
    rng: np.random.Generator,
    stage: str = "minibatch",
    verbose: bool = False,
    checkpoint: Callable[[dict], None] | None = None,
    checkpoint_every: int = 0,
    resume: dict | None = None,
) -> OptimizeResult:
    """Minibatch SGD with momentum or Adam, reshuffling the samples every epoch.

    Parameters
    ----------
    fun : callable ``fun(theta, rows) -> (cost, grad)``
        Cost and gradient on the samples ``rows`` (an index array), as a mean over them.
    theta0 : ndarray
        Starting point; its dtype is kept (float32 trains in float32).
    n_samples : int
    solver : {"sgd", "adam"}
    max_iter : int
        Epochs (passes over the samples).
    batch_size : int
    learning_rate : float or None
        ``None``: :data:`DEFAULT_LEARNING_RATES`.
    momentum : float
        For ``"sgd"``.
    rng : numpy.random.Generator or RandomState
        Draws the permutation of each epoch.
    checkpoint : callable ``checkpoint(state)``, optional
        Called at the end of every ``checkpoint_every``-th epoch with ``{"theta",
        "iteration", "loss_curve", "optimizer"}``; the caller saves ``rng``'s state
        with it.
    resume : dict, optional
        Such a state: training continues from it exactly (with ``rng`` restored by the
        caller, the result is bit for bit that of an uninterrupted run).

    Returns
    -------
    OptimizeResult
        ``loss_curve`` holds the mean minibatch cost of each epoch; ``cost`` its last
        value.
    """
    if solver not in DEFAULT_LEARNING_RATES:
        raise ValueError(f"'solver' must be 'lbfgs', 'sgd' or 'adam', got {solver!r}.")
    lr = DEFAULT_LEARNING_RATES[solver] if learning_rate is None else float(learning_rate)
    theta = np.array(theta0 if resume is None else resume["theta"], dtype=np.asarray(theta0).dtype)
    start = time.perf_counter()
    if max_iter == 0:
        cost = float(fun(theta, np.arange(n_samples))[0])
        return OptimizeResult(theta, cost, 0, True, [cost], "max_iter=0")
    stepper = _SGDMomentum(theta, lr, momentum) if solver == "sgd" else _Adam(theta, lr)
    progress = Progress(stage, max_iter, enabled=verbose, every=1)
    curve: list[float] = []
    first = 1
    if resume is not None:
        stepper.load(resume["optimizer"])
        curve = list(resume["loss_curve"])
        first = int(resume["iteration"]) + 1
    last_good = theta.copy()
    epoch, interrupted = first - 1, False
    batch_size = min(batch_size, n_samples)
    try:
        for epoch in range(first, max_iter + 1):
            order = rng.permutation(n_samples)
            total = 0.0
            for lo in range(0, n_samples, batch_size):
                rows = np.sort(order[lo : lo + batch_size])  # sorted rows: cache-friendly gather
                cost, grad = fun(theta, rows)
                _check_finite(cost, grad, stage, f"in epoch {epoch}", epoch - 1, last_good)
                total += cost * rows.size
                stepper.step(theta, grad)
            curve.append(total / n_samples)
            last_good[...] = theta
            progress.update(epoch, curve[-1], unit="epoch")
            if checkpoint is not None and checkpoint_every and epoch % checkpoint_every == 0:
                checkpoint({"theta": theta, "iteration": epoch, "loss_curve": curve, "optimizer": stepper.state()})
    except KeyboardInterrupt:
        interrupted = True
        theta = last_good  # the end of the last whole epoch
        epoch -= 1
    cost = curve[-1] if curve else float("nan")
    progress.close(epoch, cost, "interrupted" if interrupted else "", unit="epoch")
    return OptimizeResult(
        theta=theta,
        cost=cost,
        n_iter=epoch,
        converged=not interrupted,  # a fixed number of epochs is the plan, not a failure
        loss_curve=curve,
        message="interrupted" if interrupted else f"{epoch} epochs",
        interrupted=interrupted,
        seconds=time.perf_counter() - start,
    )
