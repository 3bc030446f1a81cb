"""A deep autoencoder: stacked autoencoders pretrained greedily, unrolled, fine-tuned on
reconstruction; and an outlier detector on its reconstruction error."""

from __future__ import annotations

import numbers

import numpy as np
from sklearn.base import OutlierMixin
from sklearn.utils.validation import check_is_fitted

from .. import _xp
from ..heads import reconstruction_head
from ..objectives import SPARSE_BLOCK_ROWS, dense_rows, dropout_rates, feedforward
from ._base import StackedNetwork, extended_init
from ._data import check_fit_weights, check_predict_X, weights_like
from ._registry import register

__all__ = ["StackedAutoencoder", "StackedAutoencoderOutlierDetector"]


@register(task="reconstruct", predicts="codes", outputs=("transform", "reconstruct"))
class StackedAutoencoder(StackedNetwork):
    r"""A deep autoencoder (Hinton and Salakhutdinov, 2006): stacked autoencoders
    pretrained greedily, unrolled into one encoder-decoder network and fine-tuned end
    to end on the reconstruction of the input.

    Pretraining trains one autoencoder per entry of ``hidden_layer_sizes`` (as the
    classifier does); the unrolled network is the encoders in order, then their
    decoders in reverse order, ``n_0 - n_1 - ... - n_L - ... - n_1 - n_0``, with the
    hidden units' ``activation`` everywhere but the last layer, whose units are
    ``output_activation``; fine-tuning minimises its reconstruction loss
    (``reconstruction_loss``) by backpropagation through all of it.

    ``transform`` gives the codes of any encoder layer (the last, ``n_L`` wide, by
    default), ``inverse_transform`` decodes codes of the last layer, and
    ``score_samples`` is minus each row's reconstruction loss (higher is more typical).

    Parameters
    ----------
    {parameters}

    Attributes
    ----------
    coefs_ : list of ndarray
        The unrolled network's weights in the order data flows: the encoders
        ``W1 (n_0, n_1), ..., WL (n_{L-1}, n_L)``, then the decoders
        ``(n_L, n_{L-1}), ..., (n_1, n_0)``.
    intercepts_ : list of ndarray
    pretrained_coefs_, pretrained_intercepts_ : list of ndarray
        The same, before fine-tuning (the autoencoders as pretrained; tied ones untied).
    stage_costs_, n_iter_, loss_curve_, stage_seconds_, stage_profile_ : dict
        Per stage: ``"pretrain layer 1"``, ..., ``"finetune"``.
    validation_scores_, best_validation_score_ : dict
        With ``early_stopping``.
    n_features_in_ : int

    References
    ----------
    G. E. Hinton and R. R. Salakhutdinov, "Reducing the Dimensionality of Data with
    Neural Networks", Science 313 (2006); UFLDL Tutorial, "Stacked Autoencoders".
    """

    _needs_y = False

    def __init__(
        self,
        hidden_layer_sizes=(200, 200),
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
        output_alpha=0.0,
        pretrain_max_iter=400,
        finetune_max_iter=400,
        finetune_decay="all",
        dropout=0.0,
        max_norm=None,
        adversarial=0.0,
        adversarial_weight=0.5,
        tol=1e-6,
        solver="lbfgs",
        batch_size=256,
        learning_rate=None,
        finetune_learning_rate=None,
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
        warm_start=False,
        checkpoint_dir=None,
        checkpoint_every=10,
        finetune_alpha="deprecated",
    ):
        self.hidden_layer_sizes = hidden_layer_sizes
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
        self.output_alpha = output_alpha
        self.pretrain_max_iter = pretrain_max_iter
        self.finetune_max_iter = finetune_max_iter
        self.finetune_decay = finetune_decay
        self.dropout = dropout
        self.max_norm = max_norm
        self.adversarial = adversarial
        self.adversarial_weight = adversarial_weight
        self.tol = tol
        self.solver = solver
        self.batch_size = batch_size
        self.learning_rate = learning_rate
        self.finetune_learning_rate = finetune_learning_rate
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
        self.warm_start = warm_start
        self.checkpoint_dir = checkpoint_dir
        self.checkpoint_every = checkpoint_every
        self.finetune_alpha = finetune_alpha

    # ------------------------------------------------------------------- hooks
    def _head(self):
        return reconstruction_head(self.output_activation, self.reconstruction_loss)

    def _encode_targets(self, y):
        return None, self.n_features_in_

    def _check_params(self):
        hidden, levels, dropout = super()._check_params()
        if isinstance(self.dropout, numbers.Real) and not isinstance(self.dropout, bool):
            dropout = dropout_rates(self.dropout, 2 * len(hidden) - 1)
        else:  # (input, hidden 1..L): each decoder layer takes its width's encoder dropout
            dropout = (*dropout, *dropout[-2:0:-1])
        return hidden, levels, dropout

    def _network_sizes(self, n_features, hidden, n_outputs):
        return (n_features, *hidden, *hidden[-2::-1], n_features)

    def _keep_pretrained(self, done, index, encoder, decoder):
        # [e1, ..., e_l, d_l, ..., d1]: the new pair goes in the middle
        done[index:index] = [encoder, decoder]

    @property
    def _n_code_layers(self) -> int:
        return len(self.coefs_) // 2

    # ---------------------------------------------------------------- training
    def fit(self, X, y=None, sample_weight=None):
        """Pretrain the autoencoders, unroll them, fine-tune on reconstruction; ``y`` is
        ignored, ``sample_weight`` (shape (n_samples,)) weighs the rows in every stage.

        ``X`` of shape (n_samples, n_features): anything the classifier takes (memory
        maps, Zarr, PyTorch/CuPy, Dask arrays); ``warm_start`` and ``checkpoint_dir``
        work as there.
        """
        return self._fit(X, None, sample_weight)

    # -------------------------------------------------------------- inference
    def inverse_transform(self, X):
        """The reconstruction decoded from codes of the last encoder layer, shape
        (n_samples, n_features), in the codes' namespace."""
        check_is_fitted(self)
        L = self._n_code_layers
        if not _xp.is_array(X):
            X = np.asarray(X, dtype=self.coefs_[L].dtype)
        if X.ndim != 2 or X.shape[1] != self.coefs_[L].shape[0]:
            raise ValueError(
                f"inverse_transform takes codes of shape (n_samples, {self.coefs_[L].shape[0]}), got {tuple(X.shape)}."
            )
        return self._decode(X)

    def _decode(self, H, pretrained=False):
        weights, biases = self._weights(pretrained)
        L = len(weights) // 2
        weights = [weights_like(H, W) for W in weights[L:]]
        biases = [weights_like(H, b) for b in biases[L:]]
        A = feedforward(H, weights[:-1], biases[:-1], self.activation)
        return self._head().outputs(A @ weights[-1] + biases[-1])  # (m, n_1) @ (n_1, n_0)

    def reconstruct(self, X, *, pretrained=False):
        """The network's reconstruction of ``X``, shape (n_samples, n_features)."""
        return self._head().outputs(self._scores(X, pretrained))

    def reconstruction_error(self, X, *, per_feature=False, pretrained=False):
        r"""Each row's reconstruction loss (the training loss, without penalties), shape
        (n_samples,); with ``per_feature``, each feature's share of it, shape
        (n_samples, n_features), which sums to the row's loss: what explains a score.

        Squared: :math:`\frac12 (\hat x_j - x_j)^2`; cross-entropy, from the scores
        ``s`` for accuracy: :math:`\mathrm{softplus}(s_j) - x_j s_j`."""
        X = check_predict_X(self, X)
        if _xp.is_sparse(X):  # a block of rows made dense at a time
            step = SPARSE_BLOCK_ROWS
            parts = [
                self.reconstruction_error(dense_rows(X, lo, lo + step), per_feature=per_feature, pretrained=pretrained)
                for lo in range(0, X.shape[0], step)
            ]
            return np.concatenate(parts)
        X = _xp.to_numpy(X)
        S = _xp.to_numpy(self._scores(X, pretrained))
        if self.reconstruction_loss == "cross_entropy":
            E = np.logaddexp(S, 0.0) - X * S
        else:
            E = self._head().outputs(S)
            E -= X
            E **= 2
            E *= 0.5
        return E if per_feature else E.sum(axis=1)

    def score_samples(self, X):
        """Minus each row's reconstruction loss, shape (n_samples,): higher is more typical."""
        return -self.reconstruction_error(X)

    def score(self, X, y=None):
        """Minus the mean reconstruction loss per row (for model selection)."""
        return float(np.mean(self.score_samples(X)))


def _quantile(values, q: float, weights=None) -> float:
    """The ``q`` quantile of ``values`` by the inverted CDF (the smallest value whose
    share of the (weighted) rows at or below it reaches ``q``): integer weights give the
    quantile of the repeated rows."""
    order = np.argsort(values, kind="stable")
    cumulative = np.cumsum(np.ones(values.size) if weights is None else weights[order])
    index = int(np.searchsorted(cumulative, q * cumulative[-1], side="left"))
    return float(values[order][min(index, values.size - 1)])


@register(
    task="outliers", predicts="outliers", outputs=("transform", "reconstruct"), fitted=("offset_", "interrupted_stage_")
)
class StackedAutoencoderOutlierDetector(OutlierMixin, StackedAutoencoder):
    r"""Outliers by reconstruction error: a :class:`StackedAutoencoder` trained on
    (mostly) normal rows; rows it reconstructs badly are outliers.

    scikit-learn's outlier API, as ``IsolationForest``: ``score_samples`` (minus the
    reconstruction loss: lower is more abnormal), ``decision_function`` =
    ``score_samples - offset_`` (negative for outliers), ``predict`` (-1 for outliers,
    1 for inliers), ``fit_predict``. ``offset_`` is the ``contamination`` quantile of
    the training rows' scores (as ``np.percentile``; with ``sample_weight``, the weighted
    inverted CDF), so that about that fraction of them is called outliers.
    ``reconstruction_error(X, per_feature=True)`` says which features made a row's
    score.

    Parameters
    ----------
    {parameters}

    Attributes
    ----------
    offset_ : float
        The threshold of ``decision_function``.
    Every attribute of :class:`StackedAutoencoder`.

    References
    ----------
    C. C. Aggarwal, "Outlier Analysis" (2017), ch. 3 (reconstruction-based scores);
    L. Ruff et al., "Deep One-Class Classification", ICML 2018 (the one-class MNIST
    protocol of ``benchmarks/outliers_mnist.py``).
    """

    # StackedAutoencoder's parameters and contamination (see extended_init)
    __init__ = extended_init(StackedAutoencoder.__init__, contamination=0.1)

    def _check_loaded(self) -> None:
        if not np.isfinite(getattr(self, "offset_", np.nan)):
            raise ValueError("a detector without a finite offset")

    def fit(self, X, y=None, sample_weight=None):
        """Train the deep autoencoder on ``X`` (``y`` ignored; rows weighted by
        ``sample_weight``), then set ``offset_``."""
        super().fit(X, sample_weight=sample_weight)
        scores = _xp.to_numpy(self.score_samples(X))
        if sample_weight is None:  # as IsolationForest: linear interpolation between rows
            self.offset_ = float(np.percentile(scores, 100.0 * self.contamination))
        else:
            self.offset_ = _quantile(scores, self.contamination, check_fit_weights(sample_weight, scores.shape[0]))
        return self

    def decision_function(self, X):
        """``score_samples(X) - offset_``: negative for outliers, shape (n_samples,)."""
        check_is_fitted(self, "offset_")
        return self.score_samples(X) - self.offset_

    def predict(self, X):
        """-1 for outliers, 1 for inliers, shape (n_samples,)."""
        return np.where(self.decision_function(X) < 0, -1, 1)
