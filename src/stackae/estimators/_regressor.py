"""Greedy layer-wise pretraining, a linear output with squared error, fine-tuning: regression."""

from __future__ import annotations

import numpy as np
from sklearn.base import RegressorMixin

from .. import _xp
from ..heads import SquaredErrorHead
from ._base import StackedNetwork
from ._registry import register

__all__ = ["StackedAutoencoderRegressor"]

#: The regressor's head: linear outputs, squared error against ``y``.
REGRESSION = SquaredErrorHead("linear", "y")


@register(
    task="regress",
    predicts="values",
    outputs=("predict", "transform"),
    fitted=("n_outputs_", "_y_is_vector", "interrupted_stage_"),
)
class StackedAutoencoderRegressor(RegressorMixin, StackedNetwork):
    r"""Stacked autoencoders + a linear output, fine-tuned by backpropagation on squared error.

    The classifier's recipe (:class:`StackedAutoencoderClassifier`) with a regression
    head: greedy layer-wise pretraining of the autoencoders on ``X``, a linear output
    layer trained on the last features by least squares (with weight decay), then the
    whole network fine-tuned on

    .. math:: J = \frac{1}{2m}\sum_i \|A_L^{(i)} W + b - y_i\|^2 + \frac{\alpha}{2}\|W\|^2

    with one or several targets. As scikit-learn's ``MLPRegressor``, the targets are
    used as given: standardise them (``sklearn.compose.TransformedTargetRegressor``)
    when their scale is far from 1.

    Parameters
    ----------
    {parameters}

    Attributes
    ----------
    n_outputs_ : int
        Targets per sample.
    coefs_ : list of ndarray
        ``[W1, ..., WL, W_out]``, ``W_l`` of shape ``(n_{l-1}, n_l)``.
    intercepts_ : list of ndarray
        ``[b1, ..., bL, b_out]``.
    pretrained_coefs_, pretrained_intercepts_ : list of ndarray
        The same, before fine-tuning (see ``predict(X, pretrained=True)``).
    stage_costs_, n_iter_, loss_curve_, stage_seconds_, stage_profile_ : dict
        Per stage (``"pretrain layer 1"``, ..., ``"output"``, ``"finetune"``), as for
        :class:`StackedAutoencoderClassifier`.
    validation_scores_, best_validation_score_ : dict
        With ``early_stopping``.
    n_features_in_ : int

    References
    ----------
    UFLDL Tutorial, "Fine-tuning Stacked AEs"; P. Vincent et al., "Stacked Denoising
    Autoencoders", JMLR 11 (2010).
    """

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
        output_alpha=1e-4,
        pretrain_max_iter=400,
        output_max_iter=400,
        finetune_max_iter=400,
        finetune_decay="output",
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
        self.output_max_iter = output_max_iter
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

    def __sklearn_tags__(self):
        tags = super().__sklearn_tags__()
        tags.target_tags.multi_output = True
        return tags

    # ------------------------------------------------------------------- hooks
    def _check_loaded(self) -> None:
        if getattr(self, "n_outputs_", None) != self.coefs_[-1].shape[1]:
            raise ValueError(f"n_outputs {getattr(self, 'n_outputs_', None)!r} for {self.coefs_[-1].shape[1]} outputs")

    def _head(self):
        return REGRESSION

    def _encode_targets(self, y):
        y = np.asarray(y)
        self._y_is_vector = y.ndim == 1
        self.n_outputs_ = 1 if y.ndim == 1 else int(y.shape[1])
        return y.reshape(y.shape[0], self.n_outputs_), self.n_outputs_

    def _check_warm_targets(self, y_info) -> None:
        if y_info["n_outputs_"] != self.n_outputs_:
            raise ValueError(
                f"warm_start=True needs {self.n_outputs_} targets per sample as fitted, got "
                f"{y_info['n_outputs_']}; set warm_start=False to train a new network."
            )

    # ---------------------------------------------------------------- training
    def fit(self, X, y, sample_weight=None):
        """Pretrain, train the output layer, fine-tune. ``X`` of shape (n_samples,
        n_features), ``y`` of shape (n_samples,) or (n_samples, n_targets);
        ``sample_weight`` (shape (n_samples,)): row weights for every stage.

        ``X`` may be anything the classifier takes (memory maps, Zarr, PyTorch/CuPy,
        Dask arrays); ``warm_start`` and ``checkpoint_dir`` work as there.
        """
        return self._fit(X, y, sample_weight)

    def _fit_data_options(self):
        return {"multi_output": True}

    # -------------------------------------------------------------- inference
    def predict(self, X, *, pretrained=False):
        """Predicted targets, shape (n_samples,) when fitted on a vector ``y``, else
        (n_samples, n_targets); in ``X``'s namespace (NumPy for array-likes)."""
        S = self._scores(X, pretrained)  # linear outputs: the scores themselves
        if getattr(self, "_y_is_vector", self.n_outputs_ == 1) and self.n_outputs_ == 1:
            return S[:, 0] if not _xp.is_numpy(S) else S.ravel()
        return S
