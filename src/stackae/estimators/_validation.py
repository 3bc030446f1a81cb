"""Hyperparameter checks: one template per kind of message, raised from ``fit``."""

from __future__ import annotations

import numbers

import numpy as np

from .._xp import resolve_device
from ..activations import HIDDEN_ACTIVATIONS, OUTPUT_ACTIVATIONS, check_activation
from ..exceptions import choice_error
from ..noise import check_noise
from ..objectives import LOSSES, dropout_rates
from ..optim import SCHEDULES

SOLVERS = ("lbfgs", "sgd", "adam")


def check_int(name: str, value, minimum: int) -> int:
    if isinstance(value, bool) or not isinstance(value, numbers.Integral) or value < minimum:
        raise ValueError(f"'{name}' must be an integer >= {minimum}, got {value!r}.")
    return int(value)


def check_float(name: str, value, low: float, high: float = np.inf, *, open_low: bool = False) -> float:
    ok = isinstance(value, numbers.Real) and not isinstance(value, bool) and np.isfinite(value)
    if ok:
        ok = (value > low if open_low else value >= low) and (value < high)
    if not ok:
        bracket = "(" if open_low else "["
        bound = f"in {bracket}{low}, {high})" if np.isfinite(high) else (f"> {low}" if open_low else f">= {low}")
        raise ValueError(f"'{name}' must be a number {bound}, got {value!r}.")
    return float(value)


def check_choice(name: str, value, choices) -> str:
    if value not in choices:
        raise choice_error(name, value, choices)
    return value


def check_hidden_sizes(value) -> tuple[int, ...]:
    if isinstance(value, numbers.Integral) and not isinstance(value, bool):
        value = (value,)
    try:
        sizes = tuple(value)
    except TypeError:
        sizes = None
    if not sizes or any(isinstance(s, bool) or not isinstance(s, numbers.Integral) or s < 1 for s in sizes):
        raise ValueError(f"'hidden_layer_sizes' must be a non-empty sequence of positive integers, got {value!r}.")
    return tuple(int(s) for s in sizes)


def check_solver_params(est) -> None:
    check_choice("solver", est.solver, SOLVERS)
    check_int("batch_size", est.batch_size, 1)
    if est.learning_rate is not None:
        check_float("learning_rate", est.learning_rate, 0.0, open_low=True)
    check_float("momentum", est.momentum, 0.0, 1.0)
    if not isinstance(est.nesterovs_momentum, bool | np.bool_):
        raise ValueError(f"'nesterovs_momentum' must be True or False, got {est.nesterovs_momentum!r}.")
    check_choice("learning_rate_schedule", est.learning_rate_schedule, SCHEDULES)
    check_float("tol", est.tol, 0.0)
    check_int("lbfgs_history", est.lbfgs_history, 1)
    check_early_stopping(est)
    resolve_device(est.device)


def check_early_stopping(est) -> None:
    if not isinstance(est.early_stopping, bool | np.bool_):
        raise ValueError(f"'early_stopping' must be True or False, got {est.early_stopping!r}.")
    check_float("validation_fraction", est.validation_fraction, 0.0, 1.0, open_low=True)
    check_int("n_iter_no_change", est.n_iter_no_change, 1)


def check_autoencoder_params(est, n_layers: int | None = None) -> tuple:
    """Check the autoencoders' options; returns the noise levels (one per layer, or one)."""
    check_float("alpha", est.alpha, 0.0)
    check_float("sparsity_target", est.sparsity_target, 0.0, 1.0, open_low=True)
    check_float("sparsity_weight", est.sparsity_weight, 0.0)
    check_float("contraction", est.contraction, 0.0)
    check_activation("activation", est.activation, HIDDEN_ACTIVATIONS)
    check_activation("output_activation", est.output_activation, OUTPUT_ACTIVATIONS)
    check_choice("reconstruction_loss", est.reconstruction_loss, LOSSES)
    if est.reconstruction_loss == "cross_entropy" and est.output_activation != "sigmoid":
        raise ValueError(
            "reconstruction_loss='cross_entropy' needs output_activation='sigmoid' (outputs in (0, 1)), "
            f"got output_activation={est.output_activation!r}."
        )
    if est.reconstruction_loss == "cross_entropy" and est.activation != "sigmoid" and (n_layers or 1) > 1:
        raise ValueError(
            f"reconstruction_loss='cross_entropy' with activation={est.activation!r} gives the autoencoders above "
            "the first inputs outside [0, 1] (their units' outputs); use activation='sigmoid', or "
            "reconstruction_loss='squared'."
        )
    if est.sparsity_weight and est.activation != "sigmoid":
        raise ValueError(
            f"'sparsity_weight' must be 0 with activation={est.activation!r}: the KL sparsity penalty needs mean "
            f"activations in (0, 1), which only sigmoid units have; got sparsity_weight={est.sparsity_weight!r}."
        )
    if not isinstance(est.tied_weights, bool | np.bool_):
        raise ValueError(f"'tied_weights' must be True or False, got {est.tied_weights!r}.")
    check_solver_params(est)
    _, levels = check_noise(est.noise, est.noise_level, n_layers)
    return levels


def check_dropout(est, n_hidden_layers: int) -> tuple[float, ...]:
    rates = dropout_rates(est.dropout, n_hidden_layers)
    if est.max_norm is not None:
        check_float("max_norm", est.max_norm, 0.0, open_low=True)
        if est.solver == "lbfgs":
            raise ValueError("'max_norm' needs solver='sgd' or 'adam' (it projects the weights after every step).")
    return rates
