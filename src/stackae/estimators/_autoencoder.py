"""One autoencoder layer as a scikit-learn transformer."""

from __future__ import annotations

import numpy as np
from sklearn.base import BaseEstimator, TransformerMixin
from sklearn.utils import check_random_state
from sklearn.utils.metaestimators import available_if

from .. import _xp
from .._params import pack
from .._xp import numpy_dtype
from ..log import opened, training_log
from ..noise import level_of
from ..objectives import feedforward
from ._data import (
    check_fit_data,
    check_fit_weights,
    check_predict_X,
    check_unit_interval,
    encode,
    split_validation,
    weights_like,
)
from ._export import TorchExportMixin
from ._parameters import check_params
from ._partial import check_partial_fit, has_minibatch_solver, one_more_epoch
from ._registry import register
from ._softmax import store_history
from ._stages import StageConfig, autoencoder_layers, pretrain_layer, warn_if_collapsed, warn_not_converged
from ._validation import check_autoencoder_params

__all__ = ["SparseAutoencoder"]


@register(predicts="codes", outputs=("transform", "reconstruct"))
class SparseAutoencoder(TorchExportMixin, TransformerMixin, BaseEstimator):
    r"""An autoencoder: sparse (UFLDL), denoising, tied, contractive; sigmoid, tanh or
    ReLU units.

    Minimises :func:`stackae.objectives.sparse_autoencoder_cost`; ``transform`` returns
    the hidden activations ``f(X W1 + b1)``. The defaults are UFLDL's sparse sigmoid
    autoencoder.

    Parameters
    ----------
    {parameters}

    Attributes
    ----------
    coefs_ : list of ndarray
        ``[W1 (n_features, n_hidden), W2 (n_hidden, n_features)]`` (``W2 = W1^T`` when
        tied).
    intercepts_ : list of ndarray
        ``[b1 (n_hidden,), b2 (n_features,)]``.
    n_iter_ : int
    loss_ : float
        Final cost.
    loss_curve_ : list of float
        Cost after each iteration.
    validation_scores_, best_validation_score_ : list of float, float
        With ``early_stopping``.
    n_features_in_ : int

    References
    ----------
    UFLDL Tutorial, "Autoencoders and Sparsity", http://ufldl.stanford.edu/wiki/ ;
    P. Vincent et al., "Stacked Denoising Autoencoders", JMLR 11 (2010);
    S. Rifai et al., "Contractive Auto-Encoders", ICML 2011.
    """

    def __init__(
        self,
        n_hidden=200,
        *,
        alpha=3e-3,
        sparsity_target=0.1,
        sparsity_weight=3.0,
        activation="sigmoid",
        output_activation="sigmoid",
        reconstruction_loss="squared",
        tied_weights=False,
        noise=None,
        noise_level=0.2,
        contraction=0.0,
        max_iter=400,
        tol=1e-6,
        solver="lbfgs",
        batch_size=256,
        learning_rate=None,
        momentum=0.9,
        nesterovs_momentum=False,
        learning_rate_schedule="constant",
        lbfgs_history=10,
        early_stopping=False,
        validation_fraction=0.1,
        n_iter_no_change=10,
        device="cpu",
        random_state=None,
        verbose=0,
        log=None,
        callbacks=None,
    ):
        self.n_hidden = n_hidden
        self.alpha = alpha
        self.sparsity_target = sparsity_target
        self.sparsity_weight = sparsity_weight
        self.activation = activation
        self.output_activation = output_activation
        self.reconstruction_loss = reconstruction_loss
        self.tied_weights = tied_weights
        self.noise = noise
        self.noise_level = noise_level
        self.contraction = contraction
        self.max_iter = max_iter
        self.tol = tol
        self.solver = solver
        self.batch_size = batch_size
        self.learning_rate = learning_rate
        self.momentum = momentum
        self.nesterovs_momentum = nesterovs_momentum
        self.learning_rate_schedule = learning_rate_schedule
        self.lbfgs_history = lbfgs_history
        self.early_stopping = early_stopping
        self.validation_fraction = validation_fraction
        self.n_iter_no_change = n_iter_no_change
        self.device = device
        self.random_state = random_state
        self.verbose = verbose
        self.log = log
        self.callbacks = callbacks

    def __sklearn_tags__(self):
        tags = super().__sklearn_tags__()
        tags.input_tags.sparse = True  # SciPy sparse X: made dense a block of rows at a time
        return tags

    def fit(self, X, y=None, sample_weight=None):
        """Train on ``X`` of shape (n_samples, n_features); ``y`` is ignored; the rows are
        weighted by ``sample_weight`` (integer weights train as repeated rows)."""
        check_params(self)
        n_hidden, max_iter = int(self.n_hidden), int(self.max_iter)
        levels = check_autoencoder_params(self)
        report = training_log(self)
        X, _ = check_fit_data(self, X, device=self.device)
        rng = check_random_state(self.random_state)
        if self.reconstruction_loss == "cross_entropy":
            check_unit_interval(X, "reconstruction_loss='cross_entropy'")
        weights = check_fit_weights(sample_weight, X.shape[0])
        validation = None
        if self.early_stopping:
            X, _, validation, _, weights = split_validation(
                X, None, self.validation_fraction, rng, stratify=False, sample_weight=weights
            )
        config = StageConfig.of(self, report=report)
        self.__dict__.pop("_partial_state", None)  # a fit starts over; partial_fit goes on from it
        with opened(report):
            result, monitor = pretrain_layer(
                config,
                X,
                n_hidden,
                max_iter=max_iter,
                rng=rng,
                stage=self._stage,
                noise_level=level_of(levels, 0),
                validation=validation,
                sample_weight=weights,
            )
        warn_not_converged(result, self._stage, "max_iter", max_iter)
        return self._keep(config, result, monitor, X)

    _stage = "sparse autoencoder"

    @available_if(has_minibatch_solver)
    def partial_fit(self, X, y=None, sample_weight=None):
        """One epoch of the minibatch solver over ``X``'s rows (``y`` ignored), going on
        from the last ``partial_fit`` (the first starts a new autoencoder, as ``fit``
        does): the weights, the optimizer's state (Adam's moments, SGD's velocity) and
        the random generator carry from one call to the next, so that passes over the
        batches of a stream train as the epochs of ``fit`` do; ``n_iter_`` counts the
        passes. After ``fit``, the first call goes on from the fitted weights. Needs
        ``solver="sgd"`` or ``"adam"``, a constant learning rate and no early stopping."""
        check_params(self)
        check_partial_fit(self)
        first = not hasattr(self, "_partial_state")
        fitted = None
        if first and hasattr(self, "coefs_"):  # after fit: go on from its weights
            (W1, W2), (b1, b2) = self.coefs_, self.intercepts_
            fitted = np.concatenate([W1.ravel(), b1, b2]) if self.tied_weights else pack([W1, W2], [b1, b2])
        levels = check_autoencoder_params(self)
        report = training_log(self)
        X, _ = check_fit_data(self, X, reset=not hasattr(self, "coefs_"), device=self.device)
        if self.reconstruction_loss == "cross_entropy":
            check_unit_interval(X, "reconstruction_loss='cross_entropy'")
        weights = check_fit_weights(sample_weight, X.shape[0])
        config = StageConfig.of(self, report=report)
        if report is not None and not first:
            report.append = True  # the log of the passes so far goes on

        def train(config, **run):
            return pretrain_layer(
                config, X, int(self.n_hidden), stage=self._stage, noise_level=level_of(levels, 0),
                sample_weight=weights, **run,
            )  # fmt: skip

        with opened(report):
            result, monitor = one_more_epoch(self, config, train, first=first, fitted=fitted)
        return self._keep(config, result, monitor, X)

    def _keep(self, config, result, monitor, X):
        """Take the trained autoencoder from the optimizer's ``result``."""
        dtype = numpy_dtype(X.dtype)
        W1, W2, b1, b2 = autoencoder_layers(config, result.theta, X.shape[1], int(self.n_hidden), dtype)
        self.coefs_, self.intercepts_ = [W1, W2], [b1, b2]
        store_history(self, result, monitor)
        warn_if_collapsed(encode(X, [W1], [b1], self.activation), self._stage, config)
        return self

    def _export_layers(self, output: str):
        """The encoder for ``transform``; the encoder and the decoder for ``reconstruct``."""
        W, b = self.coefs_, self.intercepts_
        if output == "transform":
            return [(W[0], b[0], self.activation)]
        return [(W[0], b[0], self.activation), (W[1], b[1], self.output_activation)]

    def transform(self, X):
        """Hidden activations ``f(X W1 + b1)``, shape (n_samples, n_hidden), in ``X``'s
        library (NumPy for array-likes)."""
        X = check_predict_X(self, X)
        return feedforward(
            X, [weights_like(X, self.coefs_[0])], [weights_like(X, self.intercepts_[0])], self.activation
        )

    def inverse_transform(self, H):
        """Reconstruction ``g(H W2 + b2)`` from hidden activations, shape (n_samples, n_features)."""
        from sklearn.utils.validation import check_is_fitted

        check_is_fitted(self)
        if not _xp.is_array(H):
            H = np.asarray(H, dtype=self.coefs_[1].dtype)
        return feedforward(
            H, [weights_like(H, self.coefs_[1])], [weights_like(H, self.intercepts_[1])], self.output_activation
        )
