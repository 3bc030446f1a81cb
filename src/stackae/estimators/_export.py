"""``to_torch`` on every estimator: the fitted network as a ``torch.nn.Module``.

The module is the network's layers as ``nn.Linear`` (which stores a weight as
``(out, in)``: the transpose of stackae's ``W``) with their activations, and the output
the estimator's method gives. Which outputs an estimator's module may compute is its
registration's (:mod:`._registry`); which layers compute one is the estimator's own
``_export_layers``. :mod:`stackae.export` (above the estimators) writes such modules to
files and converts the estimators to ONNX.
"""

from __future__ import annotations

from typing import Any

import numpy as np
from sklearn.utils.validation import check_is_fitted

from ._registry import registration_of

__all__ = ["TorchExportMixin", "check_output"]


def check_output(estimator, output):
    """``output`` (None: the estimator's default) if its module may compute it, else a ValueError."""
    outputs = registration_of(estimator).outputs
    output = outputs[0] if output is None else output
    if output not in outputs:
        choices = ", ".join(repr(o) for o in outputs)
        raise ValueError(f"A {type(estimator).__name__}'s module gives one of {choices}, got output={output!r}.")
    return output


class TorchExportMixin:
    def _check_loaded(self) -> None:
        """Raise ValueError (saying what is wrong) when the fitted attributes a model file
        gave this estimator do not fit together; :func:`stackae.io.load_model` calls it."""

    def _export_layers(self, output: str):
        """``[(W, b, activation), ...]`` of the network that computes ``output``: the
        stacked networks' (the encoders for ``transform``, else every layer with a
        linear output layer, or the reconstruction's activation for ``reconstruct``)."""
        est: Any = self  # the stacked network this mixin is part of
        W, b, act = list(est.coefs_), list(est.intercepts_), est.activation
        if output == "transform":
            return [(W[i], b[i], act) for i in range(est._n_code_layers)]
        last = est.output_activation if output == "reconstruct" else "linear"
        return [(W[i], b[i], act) for i in range(len(W) - 1)] + [(W[-1], b[-1], last)]

    def to_torch(self, output=None, dtype=None):
        """This fitted model as a ``torch.nn.Module`` computing ``output``.

        Parameters
        ----------
        output : str, optional
            The method it stands for: a classifier's ``"predict_proba"`` (default),
            ``"scores"`` (the softmax's input, one column a class) or ``"transform"``
            (not for :class:`~stackae.SoftmaxRegression`, which has no hidden layer); a
            regressor's ``"predict"`` (default) or ``"transform"``; an autoencoder's (the
            outlier detector's too) ``"transform"`` (default) or ``"reconstruct"``.
        dtype : torch dtype, optional
            Of the parameters (default float32).

        Returns
        -------
        torch.nn.Module
            In evaluation mode; it takes a float tensor of shape (n_samples, n_features).
        """
        try:
            import torch
        except ImportError:  # pragma: no cover - where torch is absent
            raise ImportError("to_torch needs PyTorch: pip install torch") from None
        check_is_fitted(self)
        output = check_output(self, output)
        dtype = torch.float32 if dtype is None else dtype
        activations = {"sigmoid": torch.nn.Sigmoid, "tanh": torch.nn.Tanh, "relu": torch.nn.ReLU, "linear": None}
        modules = []
        for W, b, activation in self._export_layers(output):
            linear = torch.nn.Linear(W.shape[0], W.shape[1], dtype=dtype)
            with torch.no_grad():
                linear.weight.copy_(torch.from_numpy(np.ascontiguousarray(np.asarray(W).T)))  # nn.Linear: (out, in)
                linear.bias.copy_(torch.from_numpy(np.asarray(b)))
            modules.append(linear)
            if activations[activation] is not None:
                modules.append(activations[activation]())
        if output == "predict_proba":
            modules.append(torch.nn.Softmax(dim=1))
        one_target = registration_of(self).predicts == "values" and self.n_outputs_ == 1
        if output == "predict" and one_target and getattr(self, "_y_is_vector", True):
            modules.append(torch.nn.Flatten(0))  # one target fitted on a vector: predictions of shape (n,)
        return torch.nn.Sequential(*modules).eval()
