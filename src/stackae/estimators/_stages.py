"""The training stages every estimator is made of, shared by all three.

* :func:`pretrain_layer` - one autoencoder (sparse, denoising, tied, contractive, ...);
* :func:`train_softmax` - softmax regression on fixed features;
* :func:`finetune` - the whole stack by backpropagation (with dropout, max-norm);

each wiring an objective of :mod:`stackae.objectives` to an optimizer of
:mod:`stackae.optim` through :func:`optimize`, with early stopping on a validation
split (:class:`EarlyStopping`) when asked. The rows stay where they live: the
objectives get ``X`` as it is (NumPy, memory map, GPU tensor, Dask array).
"""

from __future__ import annotations

import warnings

import numpy as np
from sklearn.exceptions import ConvergenceWarning

from .. import _xp
from .._checkpoint import restore_rng
from .._params import init_theta, pack, reshape, unpack
from .._rows import compiled_kernels, rows_of
from ..exceptions import CollapsedFeaturesWarning
from ..noise import corrupt
from ..objectives import (
    StackSpec,
    autoencoder_cost_grad,
    autoencoder_spec,
    feedforward,
    reconstruction_loss,
    stack_cost_grad,
)
from ..optim import OptimizeResult, lbfgs, minibatch
from ._data import batch_source, encode, host, on_rows_of, weights_like

__all__ = [
    "optimize",
    "pretrain_layer",
    "train_softmax",
    "finetune",
    "EarlyStopping",
    "warn_not_converged",
    "warn_if_collapsed",
]


# -------------------------------------------------------------------------- warnings
def warn_not_converged(result: OptimizeResult, stage: str, param: str, max_iter: int) -> None:
    if not result.converged and not result.interrupted:
        warnings.warn(
            f"Stage '{stage}' reached {param}={max_iter} iterations without converging; "
            f"increase '{param}' for a closer fit.",
            ConvergenceWarning,
            stacklevel=3,
        )


#: Rows of a layer's features checked for a collapse.
COLLAPSE_ROWS = 10000


def warn_if_collapsed(H, stage: str) -> None:
    if _xp.is_dask(H):
        spread = float(H.std(axis=0).max().compute()) if H.shape[0] > 1 else np.inf
    else:
        H = host(H[:COLLAPSE_ROWS])  # a sample tells a collapse as well as all the rows
        spread = float(H.std(axis=0).max()) if H.shape[0] > 1 else np.inf
    if spread < 1e-3:
        warnings.warn(
            f"Stage '{stage}': every hidden unit outputs nearly the same value for every "
            f"sample (largest standard deviation {spread:.2g}), so the features carry no "
            "information. Try a smaller 'alpha' (e.g. 1e-4) or 'sparsity_weight'.",
            CollapsedFeaturesWarning,
            stacklevel=3,
        )


# ---------------------------------------------------------------- early stopping
class EarlyStopping:
    """A ``monitor`` for the optimizers: scores the parameters on a validation split
    after every iteration (epoch), keeps the best, asks to stop after ``patience``
    scores without an improvement of more than ``tol``. Higher scores are better."""

    def __init__(self, score, patience: int, tol: float = 0.0):
        self.score = score
        self.patience = patience
        self.tol = tol
        self.scores: list[float] = []
        self.best_score = -np.inf
        self.best_theta = None
        self._since_best = 0

    def __call__(self, theta, iteration) -> bool:
        score = float(self.score(theta))
        self.scores.append(score)
        if score > self.best_score + self.tol:
            self.best_score = score
            self.best_theta = _xp.to_numpy(theta).copy() if not _xp.is_numpy(theta) else theta.copy()
            self._since_best = 0
        else:
            self._since_best += 1
        return self._since_best >= self.patience

    def restore(self, result: OptimizeResult) -> OptimizeResult:
        """The result with the best parameters seen on the validation split."""
        if self.best_theta is not None:
            theta = self.best_theta
            if not _xp.is_numpy(result.theta):
                xp = _xp.namespace(result.theta)
                theta = xp.asarray(theta, device=_xp.device_of(result.theta))
            result.theta = theta
        return result


def _accuracy_score(X_val, y_val, sizes, activation):
    """Validation accuracy of a stack (or softmax) with parameters ``theta``; the
    validation rows are brought to the host once."""
    X_host = _xp.to_numpy(X_val)

    def score(theta):
        weights, biases = unpack(np.asarray(host(theta), dtype=X_host.dtype), sizes)
        scores = feedforward(X_host, weights[:-1], biases[:-1], activation) @ weights[-1] + biases[-1]
        return float(np.mean(np.argmax(scores, axis=1) == y_val))

    return score


# ----------------------------------------------------------------------- optimize
def optimize(
    est,
    cost_grad,
    X,
    y,
    theta0,
    *,
    max_iter,
    stage,
    rng,
    noise=None,
    checkpoint=None,
    resume=None,
    monitor=None,
    project=None,
    learning_rate=None,
) -> OptimizeResult:
    """Minimise ``cost_grad(rows, theta, batch_seed) -> (cost, grad)`` over the rows of
    ``X`` (labels ``y``, a NumPy vector or None) with ``est``'s solver.

    L-BFGS works on all rows at once: with a float64 ``theta`` on the host for
    NumPy, file and Dask rows, with ``theta`` on the device for rows there. The
    minibatch solvers keep ``theta`` in ``X``'s dtype where ``X`` lives and evaluate
    batches of rows; ``noise=(kind, level)`` corrupts each batch's input first (for
    denoising; on a cluster, on the workers). ``checkpoint`` (a callback) and ``resume``
    (a state it saved, with the random generator's state under ``"rng"``) are passed on.
    """
    verbose = est.verbose > 0
    every = getattr(est, "checkpoint_every", 0) if checkpoint is not None else 0
    if resume is not None:
        restore_rng(rng, resume["rng"])
    on_device = not (_xp.is_numpy(X) or _xp.is_zarr(X) or _xp.is_dask(X))
    common = dict(
        max_iter=max_iter,
        stage=stage,
        verbose=verbose,
        checkpoint=checkpoint,
        checkpoint_every=every,
        resume=resume,
        monitor=monitor,
    )
    y_rows = on_rows_of(X, y)
    if est.solver == "lbfgs":
        rows = rows_of(X, y_rows)
        if on_device:
            theta0 = weights_like(X, theta0)

            def fun(theta):
                return cost_grad(rows, theta, None)

        else:

            def fun(theta):
                cost, grad = cost_grad(rows, rows.asarray(theta), None)
                return float(cost), np.asarray(grad, dtype=np.float64)

        return lbfgs(fun, theta0, tol=est.tol, maxcor=est.lbfgs_history, **common)

    batches = batch_source(X, y_rows)

    def on_rows(theta, index):
        seed = int(rng.randint(2**31))  # noise and dropout of this step, reproducible from rng
        rows = batches(index, None if noise is None else (*noise, seed))
        return cost_grad(rows, rows.asarray(theta) if not on_device else theta, seed)

    return minibatch(
        on_rows,
        weights_like(X, theta0),
        X.shape[0],
        solver=est.solver,
        batch_size=est.batch_size,
        learning_rate=est.learning_rate if learning_rate is None else learning_rate,
        momentum=est.momentum,
        nesterov=bool(est.nesterovs_momentum),
        schedule=est.learning_rate_schedule,
        rng=rng,
        project=project,
        **common,
    )


# -------------------------------------------------------------------------- stages
def _autoencoder_spec(est, n, n_hidden):
    return autoencoder_spec(
        n,
        n_hidden,
        tied=bool(est.tied_weights),
        activation=est.activation,
        output_activation=est.output_activation,
        loss=est.reconstruction_loss,
        sparsity_target=est.sparsity_target,
        sparsity_weight=est.sparsity_weight,
        contraction=est.contraction,
    )


def pretrain_layer(
    est, X, n_hidden, *, max_iter, rng, stage, noise_level=0.0, validation=None, **resumable
) -> tuple[OptimizeResult, EarlyStopping | None]:
    """Train one autoencoder on ``X`` with ``est``'s options and solver.

    With noise, L-BFGS reconstructs ``X`` from one corrupted copy drawn at the start
    (its objective must not change between evaluations); the minibatch solvers draw
    fresh noise for every batch. ``validation``: the validation rows (for early
    stopping on the reconstruction loss). Returns the result (``theta`` packed as the
    objective packs it) and the early-stopping monitor, if any.
    """
    n = X.shape[1]
    spec = _autoencoder_spec(est, n, n_hidden)
    theta0 = init_theta((n, n_hidden, n), rng, tied=spec.tied)
    alpha = float(est.alpha)

    def cost_grad(rows, theta, seed):
        return autoencoder_cost_grad(rows, theta, spec, alpha)

    noisy = est.noise is not None and noise_level > 0
    noise = None
    if noisy and est.solver == "lbfgs":
        # one corrupted copy for the whole stage, the clean rows as targets
        corrupted = corrupt(X, est.noise, noise_level, rng)
        if _xp.is_dask(corrupted):
            corrupted = corrupted.persist()
        noisy_rows = rows_of(corrupted, None, X, widths=(n_hidden,))

        def cost_grad(rows, theta, seed):  # noqa: F811 - the denoising variant
            return autoencoder_cost_grad(noisy_rows, theta, spec, alpha)

    elif noisy:
        noise = (est.noise, noise_level)

    monitor = None
    if validation is not None:
        # a denoising autoencoder is scored on what it learns: clean rows from corrupted
        # ones (one corrupted copy of the validation rows, drawn once)
        X_val, T_val = validation, None
        if noisy:
            X_val, T_val = corrupt(validation, est.noise, noise_level, rng), validation
        validation_rows = rows_of(X_val, None, T_val, widths=(n_hidden,))

        def score(theta):
            return -reconstruction_loss(validation_rows, validation_rows.asarray(theta), spec)

        monitor = EarlyStopping(score, est.n_iter_no_change)
    result = optimize(
        est,
        cost_grad,
        X,
        None,
        theta0,
        max_iter=max_iter,
        stage=stage,
        rng=rng,
        noise=noise,
        monitor=monitor,
        **resumable,
    )
    if monitor is not None:
        result = monitor.restore(result)
    return result, monitor


def autoencoder_layers(est, theta, n, n_hidden, dtype):
    """``(W1, W2, b1, b2)`` as NumPy arrays of ``dtype`` from an autoencoder's ``theta``."""
    spec = _autoencoder_spec(est, n, n_hidden)
    W1, W2, b1, b2 = spec.unpack(np.asarray(host(theta), dtype=dtype))
    return W1.copy(), np.ascontiguousarray(W2), b1.copy(), b2.copy()


def train_softmax(
    est, X, y_index, n_classes, *, alpha, max_iter, rng, stage, validation=None, **resumable
) -> tuple[OptimizeResult, EarlyStopping | None]:
    """Train softmax regression on ``X`` from UFLDL's ``0.005 * randn`` start."""
    n = X.shape[1]
    theta0 = np.zeros(n * n_classes + n_classes)
    theta0[: n * n_classes] = 0.005 * rng.standard_normal(n * n_classes)
    spec = StackSpec((n, n_classes))

    def cost_grad(rows, theta, seed):
        return stack_cost_grad(rows, theta, spec, float(alpha), (0,))

    monitor = None
    if validation is not None:
        monitor = EarlyStopping(_accuracy_score(*validation, (n, n_classes), "linear"), est.n_iter_no_change)
    result = optimize(
        est, cost_grad, X, y_index, theta0, max_iter=max_iter, stage=stage, rng=rng, monitor=monitor, **resumable
    )
    if monitor is not None:
        result = monitor.restore(result)
    return result, monitor


def max_norm_projection(sizes, c: float):
    """``project(theta)``: scale every hidden unit's incoming weights (a column of a
    hidden layer's ``W_l``; the softmax is left free) to a norm of at most ``c``
    (Srivastava et al., 2014), in place. ``sizes``: the stack's ``(n_0, ..., n_L, k)``."""
    shapes = list(zip(sizes[:-2], sizes[1:-1]))  # the hidden layers' weights come first in theta

    def project(theta):
        compiled = compiled_kernels()
        offset = 0
        for n_in, n_out in shapes:
            W = reshape(theta[offset : offset + n_in * n_out], (n_in, n_out))
            offset += n_in * n_out
            if _xp.is_numpy(W):
                if compiled is not None and compiled.max_norm(W, c):
                    continue  # compiled: 0.15-0.30 against 0.34-0.69 ms at 784-1024-1024-10
                norms = np.sqrt(np.einsum("ij,ij->j", W, W))  # one pass, no temporary
                if (norms > c).any():  # a NaN column neither counts nor stops the others
                    W *= c / np.maximum(norms, c)
                continue
            xp = _xp.namespace(W)
            norms = xp.sqrt(xp.sum(W * W, axis=0))
            # c as an array made on the device (a fill): a Python scalar would be copied from
            # the host every step, and on a GPU that copy waits for the queued kernels
            W *= c / xp.maximum(norms, xp.full_like(norms, c))

    return project


def finetune(
    est, X, y_index, done, hidden, n_classes, *, rng, stage, validation=None, rates=(), **resumable
) -> tuple[OptimizeResult, EarlyStopping | None]:
    """Fine-tune the whole stack ``done`` (``(W, b)`` of every layer and the softmax)."""
    sizes = (X.shape[1], *hidden, n_classes)
    theta0 = pack([W for W, _ in done], [b for _, b in done], dtype=np.float64)
    decayed = range(len(hidden) + 1) if est.finetune_decay == "all" else (len(hidden),)
    alpha = float(est.softmax_alpha)
    dropout = tuple(rates) if any(rates) else ()
    fixed_seed = int(rng.randint(2**31)) if dropout else 0  # L-BFGS: the same masks all stage

    def cost_grad(rows, theta, seed):
        spec = StackSpec(
            sizes,
            est.activation,
            dropout,
            fixed_seed if seed is None else seed,
            float(est.adversarial),
            float(est.adversarial_weight),
        )
        return stack_cost_grad(rows, theta, spec, alpha, decayed)

    monitor = None
    if validation is not None:
        monitor = EarlyStopping(_accuracy_score(*validation, sizes, est.activation), est.n_iter_no_change)
    project = None if est.max_norm is None else max_norm_projection(sizes, float(est.max_norm))
    result = optimize(
        est,
        cost_grad,
        X,
        y_index,
        theta0,
        max_iter=est.finetune_max_iter,
        stage=stage,
        rng=rng,
        monitor=monitor,
        project=project,
        learning_rate=getattr(est, "finetune_learning_rate", None),
        **resumable,
    )
    if monitor is not None:
        result = monitor.restore(result)
    return result, monitor


def stage_features(X, layers, activation):
    """The input of the next stage: ``X`` through the finished hidden ``layers``."""
    return encode(X, [W for W, _ in layers], [b for _, b in layers], activation)
