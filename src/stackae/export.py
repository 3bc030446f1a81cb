"""A fitted model out of Python's reach of stackae: a ``torch.nn.Module``, or a file
``torch.export`` wrote, that computes what the estimator's methods compute.

>>> module = stackae.export.to_torch(clf)             # clf.predict_proba, as a module
>>> module(torch.from_numpy(X_test.astype("float32")))

The module is the network's layers as ``nn.Linear`` (which stores a weight as
``(out, in)``: the transpose of stackae's ``W``) with their activations, and the output
the estimator's method gives: probabilities for a classifier, predictions for a
regressor, codes (``transform``) or reconstructions for an autoencoder. This module
imports the estimators, never the reverse (their ``to_torch`` methods call it when
asked).
"""

from __future__ import annotations

import numpy as np

__all__ = ["to_torch", "save_torch", "OUTPUTS"]

#: What each kind of estimator's module may return, the default first.
OUTPUTS = {
    "classifier": ("predict_proba", "scores", "transform"),
    "regressor": ("predict", "transform"),
    "autoencoder": ("transform", "reconstruct"),
}


def _kind(estimator) -> str:
    from .estimators import (
        LadderNetworkClassifier,
        SoftmaxRegression,
        SparseAutoencoder,
        StackedAutoencoder,
        StackedAutoencoderClassifier,
        StackedAutoencoderRegressor,
    )

    if isinstance(estimator, StackedAutoencoderClassifier | LadderNetworkClassifier | SoftmaxRegression):
        return "classifier"
    if isinstance(estimator, StackedAutoencoderRegressor):
        return "regressor"
    if isinstance(estimator, StackedAutoencoder | SparseAutoencoder):  # the detector is a StackedAutoencoder
        return "autoencoder"
    raise TypeError(f"to_torch takes a fitted stackae estimator, got {type(estimator).__name__}.")


def _layers(estimator, output: str):
    """``[(W, b, activation), ...]`` of the network that computes ``output``."""
    from .estimators import SoftmaxRegression, SparseAutoencoder

    W, b = list(estimator.coefs_), list(estimator.intercepts_)
    if isinstance(estimator, SoftmaxRegression):
        return [(W[0], b[0], "linear")]
    act = estimator.activation
    if isinstance(estimator, SparseAutoencoder):
        if output == "transform":
            return [(W[0], b[0], act)]
        return [(W[0], b[0], act), (W[1], b[1], estimator.output_activation)]
    n_code = estimator._n_code_layers
    if output == "transform":
        return [(W[i], b[i], act) for i in range(n_code)]
    last = "linear"
    if output == "reconstruct":
        last = estimator.output_activation
    return [(W[i], b[i], act) for i in range(len(W) - 1)] + [(W[-1], b[-1], last)]


def to_torch(estimator, output: str | None = None, dtype=None):
    """A ``torch.nn.Module`` computing ``output`` of the fitted ``estimator``.

    Parameters
    ----------
    estimator : a fitted stackae estimator
    output : str, optional
        The method it stands for (:data:`OUTPUTS`): a classifier's ``"predict_proba"``
        (default), ``"scores"`` (the softmax's input, one column a class) or ``"transform"``; a
        regressor's ``"predict"`` (default) or ``"transform"``; an autoencoder's (the
        outlier detector's too) ``"transform"`` (default) or ``"reconstruct"``.
    dtype : torch dtype, optional
        Of the parameters (default float32).

    Returns
    -------
    torch.nn.Module
        In evaluation mode; it takes a float tensor of shape (n_samples, n_features).
    """
    from sklearn.utils.validation import check_is_fitted

    try:
        import torch
    except ImportError:  # pragma: no cover - where torch is absent
        raise ImportError("to_torch needs PyTorch: pip install torch") from None
    kind = _kind(estimator)
    check_is_fitted(estimator)
    output = OUTPUTS[kind][0] if output is None else output
    if output not in OUTPUTS[kind]:
        choices = ", ".join(repr(o) for o in OUTPUTS[kind])
        raise ValueError(f"A {type(estimator).__name__}'s module gives one of {choices}, got output={output!r}.")
    dtype = torch.float32 if dtype is None else dtype
    activations = {"sigmoid": torch.nn.Sigmoid, "tanh": torch.nn.Tanh, "relu": torch.nn.ReLU, "linear": None}
    modules = []
    for W, b, activation in _layers(estimator, output):
        linear = torch.nn.Linear(W.shape[0], W.shape[1], dtype=dtype)
        with torch.no_grad():
            linear.weight.copy_(torch.from_numpy(np.ascontiguousarray(np.asarray(W).T)))  # nn.Linear: (out, in)
            linear.bias.copy_(torch.from_numpy(np.asarray(b)))
        modules.append(linear)
        if activations[activation] is not None:
            modules.append(activations[activation]())
    if output == "predict_proba":
        modules.append(torch.nn.Softmax(dim=1))
    one_target = estimator.n_outputs_ == 1 if kind == "regressor" else False
    if output == "predict" and one_target and getattr(estimator, "_y_is_vector", True):
        modules.append(torch.nn.Flatten(0))  # one target fitted on a vector: predictions of shape (n,)
    return torch.nn.Sequential(*modules).eval()


def save_torch(estimator, path, output: str | None = None) -> None:
    """Write :func:`to_torch`'s module to ``path`` with ``torch.export`` (any number of
    rows), loadable without stackae: ``torch.export.load(path).module()(X)``. The file
    is written beside ``path`` and renamed over it."""
    import torch

    from ._files import atomic_write

    module = to_torch(estimator, output)
    example = torch.zeros((2, int(estimator.n_features_in_)), dtype=torch.float32)
    program = torch.export.export(module, (example,), dynamic_shapes=({0: torch.export.Dim("rows")},))
    atomic_write(path, lambda fh: torch.export.save(program, fh))
