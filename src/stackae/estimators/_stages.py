"""The training stages every estimator is made of.

* :func:`pretrain_layer` - one autoencoder (sparse, denoising, tied, contractive, ...);
* :func:`train_output` - an output head (:mod:`stackae.heads`: the softmax, squared
  error, ...) alone on fixed features;
* :func:`finetune` - the whole stack and its head by backpropagation (with dropout,
  max-norm, adversarial rows);

each wiring an objective of :mod:`stackae.objectives` to an optimizer of
:mod:`stackae.optim` through :func:`optimize`, with early stopping on a validation
split (:class:`EarlyStopping`) when asked. The stages take their settings from one
:class:`StageConfig`, never from an estimator. The rows stay where they live: the
objectives get ``X`` as it is (NumPy, memory map, GPU tensor, Dask array).
"""

from __future__ import annotations

import warnings
from dataclasses import dataclass, fields, replace
from typing import Any

import numpy as np

from .. import _xp
from .._checkpoint import restore_rng
from .._params import init_theta, pack, reshape, unpack
from .._rows import compiled_kernels, rows_of
from ..exceptions import CollapsedFeaturesWarning, IterationLimitWarning
from ..noise import corrupt
from ..objectives import (
    StackSpec,
    autoencoder_cost_grad,
    autoencoder_spec,
    check_sample_weight,
    feedforward,
    reconstruction_loss,
    stack_cost_grad,
)
from ..optim import DEFAULT_LEARNING_RATES, OptimizeResult, lbfgs, minibatch
from ._data import batch_source, encode, host, is_out_of_core, on_rows_of, weights_like
from ._parameters import PARAMETERS, effective_params

__all__ = [
    "StageConfig",
    "optimize",
    "pretrain_layer",
    "train_output",
    "finetune",
    "EarlyStopping",
    "warn_not_converged",
    "warn_if_collapsed",
]


# ---------------------------------------------------------------------- settings
def _default(name: str):
    return PARAMETERS[name].default


@dataclass(frozen=True)
class StageConfig:
    """Every setting a stage reads: the solver's, the autoencoders', the output
    layer's and fine-tuning's, each named as its parameter and with its default from the
    parameter table (:mod:`._parameters`; UFLDL's exercise).

    An estimator makes one with :meth:`of`, which takes each field from the
    estimator's parameter of the same name where it has one (a deprecated name's value
    under the name it has now)."""

    # the solver
    solver: str = _default("solver")
    tol: float = _default("tol")
    lbfgs_history: int = _default("lbfgs_history")
    batch_size: int = _default("batch_size")
    learning_rate: float | None = _default("learning_rate")
    momentum: float = _default("momentum")
    nesterovs_momentum: bool = _default("nesterovs_momentum")
    learning_rate_schedule: str = _default("learning_rate_schedule")
    n_iter_no_change: int = _default("n_iter_no_change")
    verbose: int = _default("verbose")
    checkpoint_every: int = _default("checkpoint_every")
    # the autoencoders
    alpha: float = _default("alpha")
    sparsity_target: float = _default("sparsity_target")
    sparsity_weight: float = _default("sparsity_weight")
    activation: str = _default("activation")
    output_activation: str = _default("output_activation")
    reconstruction_loss: str = _default("reconstruction_loss")
    tied_weights: bool = _default("tied_weights")
    noise: str | None = _default("noise")
    contraction: float = _default("contraction")
    # the output layer and fine-tuning
    output_alpha: float = _default("output_alpha")
    finetune_decay: str = _default("finetune_decay")
    finetune_max_iter: int = _default("finetune_max_iter")
    finetune_learning_rate: float | None = _default("finetune_learning_rate")
    max_norm: float | None = _default("max_norm")
    # the drop probability of each layer of the fine-tuned network, input first (the
    # estimator's `dropout` resolved for its layers by check_dropout; () for none)
    dropout: tuple = ()
    adversarial: float = _default("adversarial")
    adversarial_weight: float = _default("adversarial_weight")
    # where every iteration's record goes (:class:`stackae.log.TrainingLog`), or None
    report: object = None

    @classmethod
    def of(cls, est, **overrides) -> StageConfig:
        """The settings of estimator ``est`` (its parameters of the fields' names, but
        ``dropout``, which ``overrides`` gives resolved for the layers), then ``overrides``."""
        params = effective_params(est)
        values = {f.name: params[f.name] for f in fields(cls) if f.name in params and f.name != "dropout"}
        return cls(**{**values, **overrides})


# -------------------------------------------------------------------------- warnings
def warn_not_converged(result: OptimizeResult, stage: str, param: str, max_iter: int) -> None:
    if not result.converged and not result.interrupted:
        warnings.warn(IterationLimitWarning(stage, param, max_iter), stacklevel=3)


#: Rows of a layer's features checked for a collapse.
COLLAPSE_ROWS = 10000


def _collapse_advice(config) -> str:
    """What to change when a layer's features collapsed: a minibatch step size far above
    the solver's usual one (which saturates every unit in a few steps) before the
    weight decay and the sparsity penalty (which pull every unit to the same output)."""

    if config is not None and config.solver in DEFAULT_LEARNING_RATES and config.learning_rate is not None:
        usual = DEFAULT_LEARNING_RATES[config.solver]
        if config.learning_rate > 10 * usual:
            return (
                f"Try a smaller 'learning_rate' (it is {config.learning_rate:g}; {usual:g} is usual for "
                f"solver={config.solver!r})."
            )
    return "Try a smaller 'alpha' (e.g. 1e-4) or 'sparsity_weight'."


def warn_if_collapsed(H, stage: str, config=None) -> None:
    if _xp.is_dask(H):
        spread = float(H.std(axis=0).max().compute()) if H.shape[0] > 1 else np.inf
    else:
        H = host(H[:COLLAPSE_ROWS])  # a sample tells a collapse as well as all the rows
        spread = float(H.std(axis=0).max()) if H.shape[0] > 1 else np.inf
    if spread < 1e-3:
        warnings.warn(
            f"Stage '{stage}': every hidden unit outputs nearly the same value for every "
            f"sample (largest standard deviation {spread:.2g}), so the features carry no "
            f"information. {_collapse_advice(config)}",
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
        self.best_theta: Any = None
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


def validation_score(X_val, targets, sizes, activation, head):
    """``score(theta)``: the head's validation score (:meth:`~stackae.heads.Head.score`:
    the accuracy of a softmax, R^2 of a regression, minus the mean reconstruction loss)
    of a stack (or a lone output layer) of layer sizes ``sizes`` on ``X_val``; the
    validation rows are brought to the host once. ``targets``: the encoded targets, or
    None when the head reconstructs its input."""
    # the validation rows on the host, dense (a sparse X's validation part is made dense
    # once: a tenth of the rows by default, scored after every iteration)
    X_host = X_val.toarray() if _xp.is_sparse(X_val) else _xp.to_numpy(X_val)
    targets = X_host if targets is None else targets

    def score(theta):
        weights, biases = unpack(np.asarray(host(theta), dtype=X_host.dtype), sizes)
        S = feedforward(X_host, weights[:-1], biases[:-1], activation) @ weights[-1] + biases[-1]
        return head.score(S, targets)  # (m, n_L) @ (n_L, k)

    return score


# ----------------------------------------------------------------------- optimize
def optimize(
    config,
    cost_grad,
    X,
    y,
    theta0,
    *,
    max_iter,
    stage,
    rng,
    checkpoint=None,
    resume=None,
    monitor=None,
    project=None,
    learning_rate=None,
    sample_weight=None,
) -> OptimizeResult:
    """Minimise ``cost_grad(rows, theta, batch_seed) -> (cost, grad)`` over the rows of
    ``X`` (labels ``y``, a NumPy vector or None) with ``config``'s solver.

    L-BFGS works on all rows at once: with a float64 ``theta`` on the host for
    NumPy, file and Dask rows, with ``theta`` on the device for rows there. The
    minibatch solvers keep ``theta`` in ``X``'s dtype where ``X`` lives and evaluate
    batches of rows (``batch_seed``, drawn from ``rng`` each step, seeds its noise and
    dropout). ``checkpoint`` (a callback) and ``resume``
    (a state it saved, with the random generator's state under ``"rng"``) are passed on.
    ``sample_weight``: the rows' weights (a NumPy vector), or None.
    """
    verbose = config.verbose > 0
    every = config.checkpoint_every if checkpoint is not None else 0
    if resume is not None:
        restore_rng(rng, resume["rng"])
    on_device = not _xp.on_host(X)
    common = dict(
        max_iter=max_iter,
        stage=stage,
        verbose=verbose,
        checkpoint=checkpoint,
        checkpoint_every=every,
        resume=resume,
        monitor=monitor,
        report=config.report,
    )
    y_rows = on_rows_of(X, y)
    w_rows = check_sample_weight(sample_weight, X)
    if config.solver == "lbfgs":
        rows = rows_of(X, y_rows, w=w_rows)
        if on_device:
            theta0 = weights_like(X, theta0)

            def fun(theta):
                return cost_grad(rows, theta, None)

        else:

            def fun(theta):
                cost, grad = cost_grad(rows, rows.asarray(theta), None)
                return float(cost), np.asarray(grad, dtype=np.float64)

        return lbfgs(fun, theta0, tol=config.tol, maxcor=config.lbfgs_history, **common)

    batches = batch_source(X, y_rows, w_rows)

    def on_rows(theta, index):
        seed = int(rng.randint(2**31))  # noise and dropout of this step, reproducible from rng
        rows = batches(index)
        return cost_grad(rows, rows.asarray(theta) if not on_device else theta, seed)

    return minibatch(
        on_rows,
        weights_like(X, theta0),
        X.shape[0],
        solver=config.solver,
        batch_size=config.batch_size,
        learning_rate=config.learning_rate if learning_rate is None else learning_rate,
        momentum=config.momentum,
        nesterov=bool(config.nesterovs_momentum),
        schedule=config.learning_rate_schedule,
        rng=rng,
        project=project,
        **common,
    )


# -------------------------------------------------------------------------- stages
def _autoencoder_spec(config, n, n_hidden):
    return autoencoder_spec(
        n,
        n_hidden,
        tied=bool(config.tied_weights),
        activation=config.activation,
        output_activation=config.output_activation,
        loss=config.reconstruction_loss,
        sparsity_target=config.sparsity_target,
        sparsity_weight=config.sparsity_weight,
        contraction=config.contraction,
    )


def pretrain_layer(
    config, X, n_hidden, *, max_iter, rng, stage, noise_level=0.0, validation=None, sample_weight=None, **resumable
) -> tuple[OptimizeResult, EarlyStopping | None]:
    """Train one autoencoder on ``X`` with ``config``'s options and solver.

    With noise, each block corrupts its own rows (:meth:`Kernels.corrupted`, keyed by a
    seed and the rows' indices): the minibatch solvers with each step's seed; L-BFGS
    with one seed for the stage (its objective must not change between evaluations),
    on a copy corrupted once by the same noise where the rows are in memory.
    ``validation``: the validation rows (for early stopping on the reconstruction loss).
    Returns the result (``theta`` packed as the objective packs it) and the
    early-stopping monitor, if any.
    """
    n = X.shape[1]
    spec = _autoencoder_spec(config, n, n_hidden)
    theta0 = init_theta((n, n_hidden, n), rng, tied=spec.tied)
    alpha = float(config.alpha)

    noisy = config.noise is not None and noise_level > 0
    # L-BFGS: one seed for the stage (its objective must not change between evaluations);
    # the minibatch solvers: the step's seed, fresh noise for every batch
    fixed_seed = int(rng.randint(2**31)) if noisy and config.solver == "lbfgs" else None

    def cost_grad(rows, theta, seed):
        step_spec = spec
        if noisy:
            seed = seed if fixed_seed is None else fixed_seed
            step_spec = replace(spec, noise=config.noise, noise_level=noise_level, noise_seed=seed)
        return autoencoder_cost_grad(rows, theta, step_spec, alpha)

    if fixed_seed is not None and not (_xp.is_sparse(X) or is_out_of_core(X)):
        # rows in memory: the stage's corrupted rows made once (by the same row-keyed
        # noise the blocks draw), not in every evaluation: drawing them there cost 1.2-3.5
        # times an evaluation of 784-200-784 on MNIST (bench_objectives.py --denoising).
        # Sparse and file-backed rows, which a copy would make dense or bring into
        # memory whole, draw their noise in the blocks.
        corrupted = corrupt(X, config.noise, noise_level, fixed_seed)
        if _xp.is_dask(corrupted):
            corrupted = corrupted.persist()
        noisy_rows = rows_of(corrupted, None, X, widths=(n_hidden,), w=check_sample_weight(sample_weight, X))

        def cost_grad(rows, theta, seed):  # noqa: F811 - on the corrupted copy
            return autoencoder_cost_grad(noisy_rows, theta, spec, alpha)

    monitor = None
    if validation is not None:
        # a denoising autoencoder is scored on what it learns: clean rows from corrupted
        # ones (the validation rows' noise drawn from one seed)
        validation_spec = spec
        if noisy:
            seed = int(rng.randint(2**31))
            validation_spec = replace(spec, noise=config.noise, noise_level=noise_level, noise_seed=seed)
        validation_rows = rows_of(validation, None, None, widths=(n_hidden,))

        def score(theta):
            return -reconstruction_loss(validation_rows, validation_rows.asarray(theta), validation_spec)

        monitor = EarlyStopping(score, config.n_iter_no_change)
    result = optimize(
        config,
        cost_grad,
        X,
        None,
        theta0,
        max_iter=max_iter,
        stage=stage,
        rng=rng,
        monitor=monitor,
        sample_weight=sample_weight,
        **resumable,
    )
    if monitor is not None:
        result = monitor.restore(result)
    return result, monitor


def autoencoder_layers(config, theta, n, n_hidden, dtype):
    """``(W1, W2, b1, b2)`` as NumPy arrays of ``dtype`` from an autoencoder's ``theta``."""
    spec = _autoencoder_spec(config, n, n_hidden)
    W1, W2, b1, b2 = spec.unpack(np.asarray(host(theta), dtype=dtype))
    return W1.copy(), np.ascontiguousarray(W2), b1.copy(), b2.copy()


def train_output(
    config, X, targets, n_out, head, *, alpha, max_iter, rng, stage, validation=None, sample_weight=None, **resumable
) -> tuple[OptimizeResult, EarlyStopping | None]:
    """Train the output ``head`` alone on the fixed features ``X`` (for the softmax,
    softmax regression), from the head's first weights (UFLDL's ``0.005 * randn``).
    ``targets``: encoded as the head takes them (class indices, a float matrix)."""
    n = X.shape[1]
    theta0 = head.init_output(n, n_out, rng)
    spec = StackSpec((n, n_out), head=head)

    def cost_grad(rows, theta, seed):
        return stack_cost_grad(rows, theta, spec, float(alpha), (0,))

    monitor = None
    if validation is not None:
        X_val, t_val = validation
        score = validation_score(X_val, t_val, (n, n_out), "linear", head)
        monitor = EarlyStopping(score, config.n_iter_no_change)
    result = optimize(
        config,
        cost_grad,
        X,
        targets,
        theta0,
        max_iter=max_iter,
        stage=stage,
        rng=rng,
        monitor=monitor,
        sample_weight=sample_weight,
        **resumable,
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
                    continue  # the compiled kernel: one pass a column, no temporary
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
    config, X, targets, done, sizes, head, *, rng, stage, validation=None, sample_weight=None, **resumable
) -> tuple[OptimizeResult, EarlyStopping | None]:
    """Fine-tune the whole stack ``done`` (``(W, b)`` of every layer, the output layer
    last) of layer sizes ``sizes`` under ``head``, on ``targets`` (encoded; None when
    the head reconstructs the input). ``validation``: ``(X_val, targets_val)``."""
    theta0 = pack([W for W, _ in done], [b for _, b in done], dtype=np.float64)
    n_hidden_layers = len(sizes) - 2
    decayed = range(n_hidden_layers + 1) if config.finetune_decay == "all" else (n_hidden_layers,)
    alpha = float(config.output_alpha)
    dropout = tuple(config.dropout) if any(config.dropout) else ()
    fixed_seed = int(rng.randint(2**31)) if dropout else 0  # L-BFGS: the same masks all stage

    def cost_grad(rows, theta, seed):
        spec = StackSpec(
            sizes,
            config.activation,
            dropout,
            fixed_seed if seed is None else seed,
            float(config.adversarial),
            float(config.adversarial_weight),
            head,
        )
        return stack_cost_grad(rows, theta, spec, alpha, decayed)

    monitor = None
    if validation is not None:
        X_val, t_val = validation
        monitor = EarlyStopping(validation_score(X_val, t_val, sizes, config.activation, head), config.n_iter_no_change)
    project = None if config.max_norm is None else max_norm_projection(sizes, float(config.max_norm))
    result = optimize(
        config,
        cost_grad,
        X,
        targets,
        theta0,
        max_iter=config.finetune_max_iter,
        stage=stage,
        rng=rng,
        monitor=monitor,
        project=project,
        learning_rate=config.finetune_learning_rate,
        sample_weight=sample_weight,
        **resumable,
    )
    if monitor is not None:
        result = monitor.restore(result)
    return result, monitor


def stage_features(X, layers, activation):
    """The input of the next stage: ``X`` through the finished hidden ``layers``."""
    return encode(X, [W for W, _ in layers], [b for _, b in layers], activation)
