"""Greedy layer-wise pretraining, a linear output with squared error, fine-tuning: regression."""

from __future__ import annotations

import numpy as np
from sklearn.base import RegressorMixin

from .. import _xp
from ..heads import SquaredErrorHead
from ._base import StackedNetwork
from ._registry import register
from ._stages import StageConfig
from ._validation import check_float, check_int

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
    hidden_layer_sizes : sequence of int, default=(200, 200)
    alpha : float, default=3e-3
        Weight decay of the autoencoders during pretraining.
    sparsity_target : float, default=0.1
    sparsity_weight : float, default=3.0
        Must be 0 with tanh or ReLU units.
    activation : {"sigmoid", "tanh", "relu"}, default="sigmoid"
        Hidden units, in pretraining and in the fine-tuned network.
    output_activation : {"sigmoid", "linear"}, default="sigmoid"
        The autoencoders' reconstruction units.
    reconstruction_loss : {"squared", "cross_entropy"}, default="squared"
    tied_weights : bool, default=False
    noise : {None, "masking", "gaussian", "salt_and_pepper"}, default=None
        Pretrain denoising autoencoders (see :class:`SparseAutoencoder`).
    noise_level : float or sequence of float, default=0.2
        One level for every layer, or one per layer (as Theano's SdA: 0.1, 0.2, 0.3).
    contraction : float, default=0.0
    output_alpha : float, default=1e-4
        Weight decay in the output step and in fine-tuning (on the output weights only,
        or on every weight matrix with ``finetune_decay="all"``).
    pretrain_max_iter, output_max_iter, finetune_max_iter : int, default=400
        L-BFGS iterations (epochs for the minibatch solvers) of each step;
        ``finetune_max_iter=0`` keeps the pretrained network as it is.
    finetune_decay : {"softmax", "all"}, default="softmax"
        Which weights carry decay while fine-tuning: ``"softmax"``, the output layer
        only (the name is the classifier's), or ``"all"``.
    dropout : float or sequence of float, default=0.0
        Dropout while fine-tuning: a drop probability for every hidden layer, or
        ``(input, hidden 1, ..., hidden L)``. With L-BFGS the masks are drawn once for
        the stage; the minibatch solvers draw new masks every step.
    max_norm : float or None, default=None
        Keep every hidden unit's incoming weight vector within this norm while
        fine-tuning (minibatch solvers only).
    adversarial : float, default=0.0
        Adversarial training while fine-tuning (Goodfellow et al. 2015): every
        evaluation also scores its rows moved by ``adversarial`` times the sign of the
        cost's gradient with respect to them, and minimises
        ``(1 - adversarial_weight) J(X) + adversarial_weight J(X + eps sign(grad_X J))``
        (see :func:`stackae.objectives.stack_cost`). A step costs 2.4 times one
        without it at the ``best`` preset's size.
    adversarial_weight : float, default=0.5
    tol : float, default=1e-6
    solver : {"lbfgs", "sgd", "adam"}, default="lbfgs"
        ``"lbfgs"``: full-batch L-BFGS, as UFLDL (``max_iter`` counts iterations);
        ``"sgd"`` and ``"adam"``: minibatches, reshuffled every epoch from
        ``random_state`` (``max_iter`` counts epochs; reaching it is the plan, not a
        convergence failure). Float32 input trains in float32.
    batch_size : int, default=256
        Samples per minibatch (``"sgd"``, ``"adam"``).
    learning_rate : float or None, default=None
        Step size of ``"sgd"``/``"adam"``; ``None``: 0.1 for sgd, 1e-3 for adam.
    finetune_learning_rate : float or None, default=None
        Step size of the fine-tuning stage; ``None``: ``learning_rate``.
    momentum : float, default=0.9
    nesterovs_momentum : bool, default=False
    learning_rate_schedule : {"constant", "linear", "cosine"}, default="constant"
        Decay of the minibatch step size over each stage's epochs.
    lbfgs_history : int, default=10
        Correction pairs L-BFGS keeps. UFLDL's minFunc kept 100; on its MNIST protocol
        100 pairs reached no better accuracy than 10 and took 19% longer (see the README).
    early_stopping : bool, default=False
        Hold out ``validation_fraction`` of the samples (stratified); score every stage
        on them after every iteration (epoch): minus the mean reconstruction loss for
        pretraining, R^2 for the output step and fine-tuning; stop a stage after
        ``n_iter_no_change`` without improvement and keep its best weights.
    validation_fraction : float, default=0.1
    n_iter_no_change : int, default=10
    device : str, default="cpu"
        ``"cuda"`` or ``"cuda:N"``: train on that GPU (NumPy input moved there once,
        float32 unless float64). PyTorch or CuPy input trains where it lives; a Dask
        array trains on its cluster.
    random_state : int, RandomState instance or None, default=None
    verbose : int, default=0
        Progress of every stage on stderr when > 0.
    log : str, path or None, default=None
        A file that gets one line of JSON every iteration (epoch) of every stage: the
        stage, the iteration, the cost, the validation score, the learning rate and
        the time (:mod:`stackae.log`); ``stackae show LOG`` plots it.
    callbacks : callable, list of callables or None, default=None
        Each called with that record after every iteration; one that returns True
        ends the stage, as early stopping does.
    warm_start : bool, default=False
        When True and the estimator is already fitted (or built by
        :meth:`from_layers` from layers trained elsewhere), ``fit`` skips pretraining
        and the softmax step and fine-tunes the current weights.
    checkpoint_dir : str, path or None, default=None
        Folder for checkpoints, written atomically every ``checkpoint_every``
        iterations (epochs for the minibatch solvers) and at the end of every stage.
        When it already holds checkpoints of the same run (same data and
        hyperparameters), ``fit`` continues from the newest valid one: bit for bit for
        the minibatch solvers (same thread count), from the saved iterate for L-BFGS
        (whose curvature history restarts).
    checkpoint_every : int, default=10

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
        finetune_decay="softmax",
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

    def _output_settings(self):
        return self.output_alpha, self.output_max_iter, "output_max_iter"

    def _config(self):
        return StageConfig.of(self)

    def _check_params(self):
        check_float("output_alpha", self.output_alpha, 0.0)
        check_int("output_max_iter", self.output_max_iter, 0)
        return super()._check_params()

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
