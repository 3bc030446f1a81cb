"""Optimizers over a flat parameter vector. They know no model: they take a function
``fun(theta) -> (cost, grad)`` and a starting ``theta``, and report progress under a
stage name.

``theta`` may be a NumPy array (the host) or an array API array on a device (PyTorch,
CuPy); it stays where it is:

* :func:`lbfgs` runs :mod:`stackae._lbfgs` (L-BFGS with a strong Wolfe line search,
  as minFunc, UFLDL's optimiser) where ``theta`` lives: in float64 on the host, in
  ``theta``'s dtype on a device;
* :func:`minibatch` updates ``theta`` in place with array operations of its own
  namespace, and on a device brings nothing back to the host within an epoch.

Every optimizer here:

* stops with :class:`~stackae.exceptions.NonFiniteError` when a cost or gradient is
  NaN or infinite, keeping the last finite parameters in the error (L-BFGS checks
  every evaluation; the minibatch solvers check once an epoch and keep the parameters
  as the last whole epoch left them);
* treats Ctrl-C (``KeyboardInterrupt``) as "end this stage now": it returns the best
  parameters reached so far with ``interrupted=True``;
* calls ``monitor(theta, iteration)`` after every iteration (epoch), which may ask to
  stop (early stopping is built on it), and counts the time spent in ``fun``.
"""

from __future__ import annotations

import contextlib
import time
from collections.abc import Callable
from dataclasses import dataclass, field

import numpy as np

from . import _lbfgs, _xp
from ._progress import Progress
from ._rows import compiled_kernels
from .exceptions import NonFiniteError, choice_error

__all__ = ["OptimizeResult", "lbfgs", "minibatch", "DEFAULT_LEARNING_RATES", "DEFAULT_HISTORY"]

#: Correction pairs L-BFGS keeps by default: 10, not UFLDL's 100, which reach no better
#: accuracy on the UFLDL protocol and take longer (``benchmarks/ufldl_mnist.py --history
#: 10 100``; the figures are on the UFLDL results page).
DEFAULT_HISTORY = 10


@dataclass
class OptimizeResult:
    """What one optimization stage produced."""

    theta: object
    cost: float
    n_iter: int
    converged: bool
    loss_curve: list[float] = field(default_factory=list)
    message: str = ""
    interrupted: bool = False
    seconds: float = 0.0
    n_evaluations: int = 0
    evaluation_seconds: float = 0.0
    stopped_early: bool = False


def _copy(theta):
    if _xp.is_numpy(theta):
        return theta.copy()
    xp = _xp.namespace(theta)
    return xp.asarray(theta, copy=True)


def _all_finite(a) -> bool:
    if _xp.is_numpy(a):
        # the sum is NaN or infinite when an entry is (or, harmlessly, when the entries
        # are so large that their sum overflows): one pass, no temporary array
        return bool(np.isfinite(np.add.reduce(a, axis=None)))
    xp = _xp.namespace(a)
    return bool(xp.all(xp.isfinite(a)))


def _non_finite(what: str, stage: str, where: str, iteration: int, last_finite) -> NonFiniteError:
    return NonFiniteError(
        f"Training stage '{stage}' produced a non-finite {what} {where}. Try a smaller learning rate "
        "or weight scale, and check that the input is scaled (e.g. pixels divided by 255) and finite.",
        stage=stage,
        iteration=iteration,
        theta=_xp.to_numpy(_copy(last_finite)),
    )


def _check_finite(cost, grad, stage: str, where: str, iteration: int, last_finite) -> None:
    """Raise :class:`NonFiniteError` (carrying a copy of ``last_finite``) unless the cost
    and the gradient are finite."""
    if not np.isfinite(cost):
        raise _non_finite("cost", stage, where, iteration, last_finite)
    if not _all_finite(grad):
        raise _non_finite("gradient", stage, where, iteration, last_finite)


class _Guarded:
    """Wraps ``fun``: checks finiteness, times it, remembers the best accepted iterate."""

    def __init__(self, fun: Callable, theta0, stage: str):
        self.fun = fun
        self.stage = stage
        self.best_theta = _copy(theta0)
        self.best_cost = np.inf
        self.iteration = 0
        self.evaluations = 0
        self.seconds = 0.0

    def __call__(self, theta):
        start = time.perf_counter()
        cost, grad = self.fun(theta)
        cost = float(cost)
        self.seconds += time.perf_counter() - start
        self.evaluations += 1
        _check_finite(cost, grad, self.stage, f"at iteration {self.iteration + 1}", self.iteration, self.best_theta)
        return cost, grad

    def accept(self, theta, cost):
        self.iteration += 1
        if cost <= self.best_cost:
            self.best_cost = float(cost)
            self.best_theta[...] = theta


def _latest_score(monitor) -> float | None:
    """A monitor's latest validation score (early stopping's), or None."""
    scores = getattr(monitor, "scores", None)
    return float(scores[-1]) if scores else None


def _show_score(progress: Progress, monitor) -> None:
    """Put a monitor's latest validation score on the progress line."""
    score = _latest_score(monitor)
    if score is not None:
        progress.note(f"validation {score:.6g}")


def _record(stage, iteration, cost, monitor, learning_rate, seconds) -> dict:
    """An iteration's record for ``report`` (its fields: :mod:`stackae.log`)."""
    return {
        "stage": stage,
        "iteration": int(iteration),
        "cost": float(cost),
        "validation": _latest_score(monitor),
        "learning_rate": None if learning_rate is None else float(learning_rate),
        "seconds": round(seconds, 6),
    }


#: L-BFGS also stops when an iteration lowers the cost by at most this fraction of it:
#: scipy's L-BFGS-B default (factr 1e7 times the float64 epsilon), which stackae used on
#: the host before its own L-BFGS; without it small problems ran to ``max_iter``.
FTOL = 1e7 * float(np.finfo(np.float64).eps)


def _blas_one_thread():
    """``(context, usual)``: within ``context`` BLAS runs on one thread, for the
    optimizer's own vector work (BLAS-1 calls on a few hundred thousand numbers, which
    several threads make slower, not faster); ``usual(f)`` is ``f`` run with the usual threads (the evaluations, and
    the monitor's validation scores)."""
    from threadpoolctl import ThreadpoolController

    controller = ThreadpoolController()
    threads = {info["filepath"]: info["num_threads"] for info in controller.info()}

    def usual(f):
        def run(*args):
            with controller.limit(limits=threads):
                return f(*args)

        return run

    return controller.limit(limits=1, user_api="blas"), usual


def lbfgs(
    fun: Callable,
    theta0,
    *,
    max_iter: int,
    tol: float = 1e-6,
    maxcor: int = DEFAULT_HISTORY,
    stage: str = "lbfgs",
    verbose: bool = False,
    checkpoint: Callable[[dict], None] | None = None,
    checkpoint_every: int = 0,
    resume: dict | None = None,
    monitor: Callable | None = None,
    report: Callable[[dict], bool] | None = None,
) -> OptimizeResult:
    """Full-batch L-BFGS, as UFLDL trains every stage.

    Parameters
    ----------
    fun : callable ``fun(theta) -> (cost, grad)``
    theta0 : array of shape (n_params,)
        NumPy (the iterates are float64) or an array API array on a device (in its own
        dtype, on its device).
    max_iter : int
        Iterations (not function evaluations); 0 returns ``theta0`` untouched.
    tol : float
        Stop when the largest gradient component is at most ``tol``.
    maxcor : int
        Correction pairs kept (10 by default, as scipy; UFLDL's minFunc keeps 100).
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
    monitor : callable ``monitor(theta, iteration) -> bool``, optional
        Called after every iteration; returning True ends the stage.
    report : callable ``report(record) -> bool``, optional
        Called after every iteration (after ``monitor``) with its record
        (:mod:`stackae.log`); returning True ends the stage.
    """
    on_host = _xp.is_numpy(np.asarray(theta0) if isinstance(theta0, list | tuple) else theta0)
    start_theta = theta0 if resume is None else resume["theta"]
    if on_host:
        theta0 = np.array(start_theta, dtype=np.float64)
    else:
        xp = _xp.namespace(theta0)
        theta0 = xp.asarray(start_theta, dtype=theta0.dtype, device=_xp.device_of(theta0), copy=True)
    done = 0 if resume is None else int(resume["iteration"])
    curve: list[float] = [] if resume is None else list(resume["loss_curve"])
    start = time.perf_counter()
    if max_iter - done <= 0:
        cost = float(fun(theta0)[0])
        return OptimizeResult(theta0, cost, done, True, curve or [cost], f"max_iter={max_iter}", seconds=0.0)
    guarded = _Guarded(fun, theta0, stage)
    guarded.iteration = done
    progress = Progress(stage, max_iter, enabled=verbose)
    stopped_early = False

    def after_iteration(theta, cost):
        nonlocal stopped_early
        guarded.accept(theta, cost)
        curve.append(float(cost))
        progress.update(guarded.iteration, cost)
        if checkpoint is not None and checkpoint_every and guarded.iteration % checkpoint_every == 0:
            checkpoint({"theta": guarded.best_theta, "iteration": guarded.iteration, "loss_curve": curve})
        stop = monitor is not None and monitor(theta, guarded.iteration)
        _show_score(progress, monitor)
        if report is not None:
            stop = report(_record(stage, guarded.iteration, cost, monitor, None, progress.elapsed)) or stop
        if stop:
            stopped_early = True
            raise StopIteration

    interrupted = False
    # the host's BLAS runs the vector work only when theta is on the host
    pinned, usual = _blas_one_thread() if on_host else (contextlib.nullcontext(), lambda f: f)
    try:
        with pinned:
            theta, cost, n_iter, converged, message = _lbfgs.minimize(
                usual(guarded),
                theta0,
                xp=np if on_host else _xp.namespace(theta0),
                max_iter=max_iter - done,
                gtol=tol,
                ftol=FTOL,
                history=maxcor,
                callback=usual(after_iteration),
            )
        n_iter += done
    except KeyboardInterrupt:
        interrupted = True
        if np.isfinite(guarded.best_cost):
            theta, cost = guarded.best_theta, guarded.best_cost
        else:
            theta, cost = theta0, float(fun(theta0)[0])
        n_iter, converged, message = guarded.iteration, False, "interrupted"
    if stopped_early:
        converged, message = True, "stopped early"
    if not curve or curve[-1] != cost:
        curve.append(cost)
    progress.close(n_iter, cost, "interrupted" if interrupted else ("stopped early" if stopped_early else ""))
    return OptimizeResult(
        theta=theta,
        cost=cost,
        n_iter=n_iter,
        converged=converged,
        loss_curve=curve,
        message=message,
        interrupted=interrupted,
        seconds=time.perf_counter() - start,
        n_evaluations=guarded.evaluations,
        evaluation_seconds=guarded.seconds,
        stopped_early=stopped_early,
    )


#: Learning rates used when ``learning_rate=None``.
DEFAULT_LEARNING_RATES = {"sgd": 0.1, "adam": 1e-3}


class _SGDMomentum:
    """``v = momentum * v - lr * g ; theta += v`` (classical momentum), or Nesterov's
    form ``theta += momentum * v - lr * g`` (Sutskever et al., 2013)."""

    def __init__(self, theta, learning_rate, momentum=0.9, nesterov=False):
        self.lr, self.momentum, self.nesterov = learning_rate, momentum, nesterov
        self.velocity = theta * 0

    def state(self) -> dict:
        return {"velocity": self.velocity}

    def load(self, state: dict) -> None:
        self.velocity[...] = _like(state["velocity"], self.velocity)

    def step(self, theta, grad, lr):
        # In place, in the parameters' own namespace. These few passes are bound by
        # memory bandwidth (threads over cache-sized chunks, or numexpr, do not help),
        # so the compiled kernel makes them one.
        compiled = compiled_kernels()
        if compiled is not None and compiled.sgd_step(theta, self.velocity, grad, self.momentum, lr, self.nesterov):
            return
        self.velocity *= self.momentum
        self.velocity -= lr * grad
        if self.nesterov:
            theta += self.momentum * self.velocity
            theta -= lr * grad
        else:
            theta += self.velocity


class _Adam:
    """Adam (Kingma & Ba, 2015) with bias correction folded into the step size."""

    def __init__(self, theta, learning_rate, beta1=0.9, beta2=0.999, epsilon=1e-8):
        self.lr, self.beta1, self.beta2, self.epsilon = learning_rate, beta1, beta2, epsilon
        self.m = theta * 0
        self.v = theta * 0
        self.t = 0

    def state(self) -> dict:
        return {"m": self.m, "v": self.v, "t": self.t}

    def load(self, state: dict) -> None:
        self.m[...] = _like(state["m"], self.m)
        self.v[...] = _like(state["v"], self.v)
        self.t = int(state["t"])

    def step(self, theta, grad, lr):
        self.t += 1
        step = lr * np.sqrt(1 - self.beta2**self.t) / (1 - self.beta1**self.t)
        compiled = compiled_kernels()
        if compiled is not None and compiled.adam_step(
            theta, self.m, self.v, grad, self.beta1, self.beta2, self.epsilon, step
        ):
            return
        self.m *= self.beta1
        self.m += (1 - self.beta1) * grad
        self.v *= self.beta2
        self.v += (1 - self.beta2) * (grad * grad)
        if _xp.is_numpy(theta):
            tmp = np.sqrt(self.v)
            tmp += self.epsilon
            np.divide(self.m, tmp, out=tmp)
            tmp *= step
            theta -= tmp
        else:
            xp = _xp.namespace(theta)
            theta -= step * (self.m / (xp.sqrt(self.v) + self.epsilon))


def _like(saved, current):
    """A saved optimizer array (NumPy, from a checkpoint) in ``current``'s namespace."""
    if _xp.is_numpy(current):
        return np.asarray(saved, dtype=current.dtype)
    xp = _xp.namespace(current)
    return xp.asarray(np.asarray(saved), dtype=current.dtype, device=_xp.device_of(current))


SCHEDULES = ("constant", "linear", "cosine")


def _learning_rate(base: float, schedule: str, done_fraction: float, decay_start: float = 0.0) -> float:
    """The step size after ``done_fraction`` of all steps: constant, or decaying
    linearly or along half a cosine to 0 at the end, from ``decay_start`` of the steps
    on (the Ladder network's schedule: the last third)."""
    if decay_start > 0.0:
        if done_fraction < decay_start:
            return base
        done_fraction = (done_fraction - decay_start) / (1.0 - decay_start)
    if schedule == "linear":
        return base * (1.0 - done_fraction)
    if schedule == "cosine":
        return base * 0.5 * (1.0 + np.cos(np.pi * done_fraction))
    return base


def minibatch(
    fun: Callable,
    theta0,
    n_samples: int,
    *,
    solver: str = "adam",
    max_iter: int,
    batch_size: int = 256,
    learning_rate: float | None = None,
    momentum: float = 0.9,
    nesterov: bool = False,
    schedule: str = "constant",
    rng,
    stage: str = "minibatch",
    verbose: bool = False,
    checkpoint: Callable[[dict], None] | None = None,
    checkpoint_every: int = 0,
    resume: dict | None = None,
    monitor: Callable | None = None,
    project: Callable | None = None,
    order: Callable | None = None,
    decay_start: float = 0.0,
    report: Callable[[dict], bool] | None = None,
) -> OptimizeResult:
    """Minibatch SGD with momentum or Adam, reshuffling the samples every epoch.

    Parameters
    ----------
    fun : callable ``fun(theta, rows) -> (cost, grad)``
        Cost and gradient on the samples ``rows`` (an index array: NumPy, or on
        ``theta``'s device when ``theta`` is there), as a mean over them. The cost may be
        a 0-d array on a device: it is summed there and read once an epoch.
    theta0 : array
        Starting point; its dtype, namespace and device are kept.
    n_samples : int
    solver : {"sgd", "adam"}
    max_iter : int
        Epochs (passes over the samples).
    batch_size : int
    learning_rate : float or None
        ``None``: :data:`DEFAULT_LEARNING_RATES`.
    momentum, nesterov : float, bool
        For ``"sgd"``.
    schedule : {"constant", "linear", "cosine"}
        How the learning rate decays over all ``max_iter`` epochs.
    rng : numpy.random.RandomState or Generator
        Draws the permutation of each epoch.
    checkpoint : callable ``checkpoint(state)``, optional
        Called at the end of every ``checkpoint_every``-th epoch with ``{"theta",
        "iteration", "loss_curve", "optimizer"}``; the caller saves ``rng``'s state
        with it.
    resume : dict, optional
        Such a state: training continues from it exactly (with ``rng`` restored by the
        caller, the result is bit for bit that of an uninterrupted run).
    monitor : callable ``monitor(theta, epoch) -> bool``, optional
        Called after every epoch; True ends the stage.
    project : callable ``project(theta)``, optional
        Applied in place after every step (e.g. a max-norm constraint).
    order : callable ``order(rng, n_samples) -> index array``, optional
        The samples' order in an epoch (default: a uniform permutation from ``rng``).
    decay_start : float
        The fraction of the steps after which ``schedule`` starts its decay (0: from the
        first step).
    report : callable ``report(record) -> bool``, optional
        Called after every epoch (after ``monitor``) with its record
        (:mod:`stackae.log`); returning True ends the stage.

    Returns
    -------
    OptimizeResult
        ``loss_curve`` holds the mean minibatch cost of each epoch; ``cost`` its last
        value.
    """
    if solver not in DEFAULT_LEARNING_RATES:
        raise choice_error("solver", solver, ("lbfgs", *DEFAULT_LEARNING_RATES))
    if schedule not in SCHEDULES:
        raise choice_error("schedule", schedule, SCHEDULES)
    lr = DEFAULT_LEARNING_RATES[solver] if learning_rate is None else float(learning_rate)
    on_host = _xp.is_numpy(theta0)
    if on_host:
        theta = np.array(theta0 if resume is None else resume["theta"], dtype=np.asarray(theta0).dtype)
    else:
        theta = _copy(theta0)
        if resume is not None:
            theta[...] = _like(resume["theta"], theta)
    start = time.perf_counter()
    if max_iter == 0:  # nothing to do; no pass over the data just to report a cost
        return OptimizeResult(theta, float("nan"), 0, True, [], "max_iter=0")
    stepper = _SGDMomentum(theta, lr, momentum, nesterov) if solver == "sgd" else _Adam(theta, lr)
    progress = Progress(stage, max_iter, enabled=verbose, every=1)
    curve: list[float] = []
    first = 1
    if resume is not None:
        stepper.load(resume["optimizer"])
        curve = list(resume["loss_curve"])
        first = int(resume["iteration"]) + 1
    last_good = _copy(theta)
    epoch, interrupted, stopped_early = first - 1, False, False
    batch_size = min(batch_size, n_samples)
    steps_per_epoch = -(-n_samples // batch_size)
    evaluations, eval_seconds = 0, 0.0
    try:
        for epoch in range(first, max_iter + 1):
            permutation = order(rng, n_samples) if order is not None else rng.permutation(n_samples)
            if not on_host:  # the epoch's order goes to the device once; no copy per step
                xp = _xp.namespace(theta)
                permutation = xp.asarray(permutation, device=_xp.device_of(theta))
            total = 0.0
            for step, lo in enumerate(range(0, n_samples, batch_size)):
                rows = permutation[lo : lo + batch_size]
                if order is None and on_host:
                    rows = np.sort(rows)  # sorted rows: cache-friendly gather
                tick = time.perf_counter()
                cost, grad = fun(theta, rows)
                eval_seconds += time.perf_counter() - tick
                evaluations += 1
                if on_host:
                    cost = float(cost)
                total = total + cost * rows.shape[0]
                done = ((epoch - 1) * steps_per_epoch + step) / (max_iter * steps_per_epoch)
                rate = _learning_rate(lr, schedule, done, decay_start)
                stepper.step(theta, grad, rate)
                if project is not None:
                    project(theta)
            total = float(total)  # on a device: the one read of the epoch
            # One check an epoch, on the host as on a device (a pass over the gradient
            # every step would be a visible share of a minibatch step): a non-finite
            # gradient leaves theta non-finite for good (any step times inf or NaN),
            # and a non-finite cost with theta finite makes the total non-finite. The
            # epoch is rolled back whole either way.
            theta_finite = _all_finite(theta)
            if not theta_finite or not np.isfinite(total):
                what = "gradient" if not theta_finite else "cost"
                raise _non_finite(what, stage, f"in epoch {epoch}", epoch - 1, last_good)
            curve.append(total / n_samples)
            last_good[...] = theta
            stop = monitor is not None and monitor(theta, epoch)
            _show_score(progress, monitor)
            progress.update(epoch, curve[-1], unit="epoch")
            if report is not None:
                stop = report(_record(stage, epoch, curve[-1], monitor, rate, progress.elapsed)) or stop
            if checkpoint is not None and checkpoint_every and epoch % checkpoint_every == 0:
                checkpoint({"theta": theta, "iteration": epoch, "loss_curve": curve, "optimizer": stepper.state()})
            if stop:
                stopped_early = True
                break
    except KeyboardInterrupt:
        interrupted = True
        theta = last_good  # the end of the last whole epoch
        epoch -= 1
    cost = curve[-1] if curve else float("nan")
    note = "interrupted" if interrupted else ("stopped early" if stopped_early else "")
    progress.close(epoch, cost, note, unit="epoch")
    return OptimizeResult(
        theta=theta,
        cost=cost,
        n_iter=epoch,
        converged=not interrupted,  # a fixed number of epochs is the plan, not a failure
        loss_curve=curve,
        message=note or f"{epoch} epochs",
        interrupted=interrupted,
        seconds=time.perf_counter() - start,
        n_evaluations=evaluations,
        evaluation_seconds=eval_seconds,
        stopped_early=stopped_early,
    )
