"""The hyperparameter checks that read several parameters (or the layer count), raised
from ``fit`` after :func:`~._parameters.check_params` has checked each parameter alone
against its row of the parameter table."""

from __future__ import annotations

import numbers

from ..noise import check_noise
from ..objectives import dropout_rates


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


def check_autoencoder_params(est, n_layers: int | None = None) -> tuple:
    """Check the autoencoders' options together (each alone is checked by the table);
    returns the noise levels (one per layer, or one)."""
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
    _, levels = check_noise(est.noise, est.noise_level, n_layers)
    return levels


def check_dropout(est, n_hidden_layers: int) -> tuple[float, ...]:
    """``est.dropout`` for each layer, input first (:func:`~stackae.objectives.dropout_rates`)."""
    dropout = dropout_rates(est.dropout, n_hidden_layers)
    if est.max_norm is not None:
        if est.solver == "lbfgs":
            raise ValueError("'max_norm' needs solver='sgd' or 'adam' (it projects the weights after every step).")
    return dropout
