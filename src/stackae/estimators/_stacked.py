"""Greedy layer-wise pretraining, a softmax on top, fine-tuning: UFLDL's recipe, and more."""

from __future__ import annotations

import numpy as np
from sklearn.base import ClassifierMixin
from sklearn.utils.validation import check_is_fitted

from ..heads import SOFTMAX
from ._base import StackedNetwork
from ._registry import register
from ._softmax import SoftmaxOutputMixin, SoftmaxRegression, class_row_weights, encode_labels, labeled_rows

__all__ = ["StackedAutoencoderClassifier"]


@register(task="classify", predicts="classes", outputs=("predict_proba", "scores", "transform"))
class StackedAutoencoderClassifier(SoftmaxOutputMixin, ClassifierMixin, StackedNetwork):
    r"""Stacked autoencoders + softmax, fine-tuned by backpropagation.

    Training runs UFLDL's three steps, each by L-BFGS (or the minibatch ``solver``):

    1. greedy layer-wise pretraining: an autoencoder on ``X``, another on the first
       one's hidden activations, and so on (one per entry of ``hidden_layer_sizes``);
    2. a softmax classifier on the last layer's features;
    3. fine-tuning: all layers and the softmax as one network, every weight optimised
       at once on :func:`stackae.objectives.stack_cost`.

    The defaults are UFLDL's exercise (sparse sigmoid autoencoders, L-BFGS). The
    autoencoders may also be denoising (``noise``), tied, contractive, with tanh or
    ReLU units; fine-tuning may use dropout and a max-norm constraint; every stage may
    stop early on a validation split. :mod:`stackae.presets` holds named recipes.

    Parameters
    ----------
    {parameters}

    Attributes
    ----------
    classes_ : ndarray of shape (n_classes,)
    coefs_ : list of ndarray
        ``[W1, ..., WL, Theta]``, ``W_l`` of shape ``(n_{l-1}, n_l)``.
    intercepts_ : list of ndarray
        ``[b1, ..., bL, c]``.
    pretrained_coefs_, pretrained_intercepts_ : list of ndarray
        The same, before fine-tuning (see ``predict(X, pretrained=True)``).
    stage_costs_ : dict
        Final cost of each stage: ``"pretrain layer 1"``, ..., ``"softmax"``,
        ``"finetune"``.
    n_iter_ : dict
        Iterations run in each stage.
    loss_curve_ : dict of list of float
        Cost after each iteration, per stage.
    stage_seconds_ : dict
        Wall time of each stage.
    stage_profile_ : dict
        Per stage: evaluations of the objective and the seconds spent in them.
    validation_scores_, best_validation_score_ : dict
        With ``early_stopping``: per stage, the score after each iteration and the
        best one (whose weights were kept).
    n_features_in_ : int

    References
    ----------
    UFLDL Tutorial, "Fine-tuning Stacked AEs",
    http://ufldl.stanford.edu/wiki/index.php/Fine-tuning_Stacked_AEs ;
    P. Vincent et al., "Stacked Denoising Autoencoders", JMLR 11 (2010);
    N. Srivastava et al., "Dropout", JMLR 15 (2014).
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
        class_weight=None,
        unlabeled_label=-1,
        softmax_alpha="deprecated",
        softmax_max_iter="deprecated",
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
        self.class_weight = class_weight
        self.unlabeled_label = unlabeled_label
        self.softmax_alpha = softmax_alpha
        self.softmax_max_iter = softmax_max_iter

    # ------------------------------------------------------------------- hooks
    _stratify = True

    def _head(self):
        return SOFTMAX

    def _labeled_rows(self, y):
        return labeled_rows(y, self.unlabeled_label)

    def _encode_targets(self, y):
        self.classes_, y_index = encode_labels(self, y, unlabeled=self._has_unlabeled)
        return y_index, self.classes_.size

    def _row_weights(self, y, sample_weight):
        return class_row_weights(self.class_weight, y, sample_weight)

    def _check_warm_targets(self, y_info) -> None:
        classes = y_info["classes_"]
        if not np.array_equal(self.classes_, classes):
            raise ValueError(
                f"warm_start=True needs the fitted classes {list(self.classes_)}, got {list(classes)}; "
                "set warm_start=False to train a new network."
            )

    # ---------------------------------------------------------------- training
    @classmethod
    def from_layers(cls, layers, softmax, **params):
        """A stack assembled from layers trained elsewhere, ready to be fine-tuned by ``fit``.

        Parameters
        ----------
        layers : sequence of fitted SparseAutoencoder, or of ``(W, b)`` pairs
            The hidden layers in order; ``W`` of shape ``(n_in, n_out)``.
        softmax : fitted SoftmaxRegression, or ``(Theta, c, classes)``
        **params
            Other constructor parameters (e.g. ``finetune_max_iter``); ``warm_start`` is
            set to True and ``hidden_layer_sizes`` taken from the layers.

        Returns
        -------
        StackedAutoencoderClassifier
            ``predict`` works at once (the network as assembled); ``fit(X, y)``
            fine-tunes it without pretraining.
        """
        weights, biases = cls._layer_pairs(layers)
        if isinstance(softmax, SoftmaxRegression):
            check_is_fitted(softmax)
            Theta, c, classes = softmax.coefs_[0], softmax.intercepts_[0], softmax.classes_
        else:
            Theta, c, classes = softmax
        Theta, c, classes = np.asarray(Theta), np.asarray(c), np.asarray(classes)
        n_last = weights[-1].shape[1] if weights else None
        if Theta.ndim != 2 or Theta.shape[0] != n_last or c.shape != (Theta.shape[1],) or classes.shape != c.shape:
            raise ValueError(
                f"The softmax has weights {Theta.shape}, intercepts {c.shape} and {classes.size} classes; "
                f"expected ({n_last}, n_classes), (n_classes,) and n_classes classes."
            )
        params["hidden_layer_sizes"] = tuple(W.shape[1] for W in weights)
        return cls._assemble([*weights, Theta], [*biases, c], params, classes_=classes)

    def fit(self, X, y, sample_weight=None, X_unlabeled=None):
        """Pretrain, train the softmax, fine-tune. ``X`` of shape (n_samples, n_features).

        Unlabeled rows: ``y == -1`` marks a row of ``X`` unlabeled (scikit-learn's
        semi-supervised convention; in an object ``y`` of string labels, the integer
        -1), and ``X_unlabeled`` (shape (n, n_features): an array, a memory map, a Zarr
        or Dask array, read where it lives, never concatenated with a file) adds more.
        Pretraining learns from every row; the softmax, fine-tuning and early
        stopping's validation split use the labeled rows alone.

        ``sample_weight`` (shape (n_samples,)): row weights for every stage (times the
        classes' weights of ``class_weight`` in the supervised ones); integer weights
        train as repeated rows.

        ``X`` may be array-like, a NumPy memory map, a Zarr array, a PyTorch/CuPy array
        or a Dask array (see :mod:`stackae.estimators`). With ``warm_start=True`` on a
        fitted estimator, only fine-tune. With ``checkpoint_dir`` holding checkpoints
        of this same run (same data and hyperparameters), continue from the newest
        valid one.
        """
        return self._fit(X, y, sample_weight, X_unlabeled)
